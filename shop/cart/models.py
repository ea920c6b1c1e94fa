"""Carts: one per visitor (guest, by signed cookie token) or customer, with price snapshots."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.accounts.models import utcnow
from shop.extensions import db


class CartStatus:
    ACTIVE = "active"
    ABANDONED = "abandoned"
    CONVERTED = "converted"
    MERGED = "merged"
    ALL = (ACTIVE, ABANDONED, CONVERTED, MERGED)


class CartEventKind:
    ADDED = "added"
    UPDATED = "updated"
    REMOVED = "removed"
    CHECKOUT_STARTED = "checkout_started"
    MERGED = "merged"
    ALL = (ADDED, UPDATED, REMOVED, CHECKOUT_STARTED, MERGED)


class Cart(db.Model):
    __tablename__ = "carts"
    __table_args__ = (
        CheckConstraint(f"status IN {CartStatus.ALL!r}", name="status_known"),
        # A customer has at most one active cart.
        Index(
            "uq_carts_active_customer",
            "customer_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
        Index("ix_carts_status_activity", "status", "last_activity_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default=CartStatus.ACTIVE)
    locale: Mapped[str] = mapped_column(String(5), default="fr")
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    converted_order_id: Mapped[int | None] = mapped_column()

    items: Mapped[list[CartItem]] = relationship(
        back_populates="cart", order_by="CartItem.id", cascade="all, delete-orphan"
    )

    @property
    def quantity(self) -> int:
        return sum(i.quantity for i in self.items)


class CartItem(db.Model):
    __tablename__ = "cart_items"
    __table_args__ = (
        UniqueConstraint("cart_id", "variant_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    variant_id: Mapped[int] = mapped_column(ForeignKey("product_variants.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column()
    unit_price: Mapped[int] = mapped_column()  # snapshot when added, minor units
    added_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)

    cart: Mapped[Cart] = relationship(back_populates="items")


class CartEvent(db.Model):
    __tablename__ = "cart_events"
    __table_args__ = (
        CheckConstraint(f"kind IN {CartEventKind.ALL!r}", name="kind_known"),
        Index("ix_cart_events_cart_at", "cart_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    variant_id: Mapped[int | None] = mapped_column()
    quantity: Mapped[int | None] = mapped_column()
    at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
