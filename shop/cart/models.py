"""Carts: one per visitor (guest, by signed cookie token) or customer, with price snapshots."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.clock import utcnow
from shop.extensions import db


class CartStatus:
    ACTIVE = "active"
    ABANDONED = "abandoned"
    CONVERTED = "converted"
    MERGED = "merged"
    ALL = (ACTIVE, ABANDONED, CONVERTED, MERGED)
    # The visitor's cart: an abandoned cart is still theirs, and any activity makes it
    # active again.
    OPEN = (ACTIVE, ABANDONED)


class CartEventKind:
    ADDED = "added"
    UPDATED = "updated"
    REMOVED = "removed"
    CHECKOUT_STARTED = "checkout_started"
    MERGED = "merged"
    RECOVERED = "recovered"  # reopened from a reminder's link
    ALL = (ADDED, UPDATED, REMOVED, CHECKOUT_STARTED, MERGED, RECOVERED)


class Cart(db.Model):
    __tablename__ = "carts"
    __table_args__ = (
        CheckConstraint(f"status IN {CartStatus.ALL!r}", name="status_known"),
        # A customer has at most one open (active or abandoned) cart.
        Index(
            "uq_carts_open_customer",
            "customer_id",
            unique=True,
            postgresql_where=text("status IN ('active', 'abandoned')"),
            sqlite_where=text("status IN ('active', 'abandoned')"),
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
    # Abandoned-cart recovery: when the cart was found idle, the last reminder sent (0: none)
    # and when a guest ticked "remind me" at checkout (consent, when the store asks for it).
    abandoned_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))
    recovery_step: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    recovery_consent_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))

    items: Mapped[list[CartItem]] = relationship(
        back_populates="cart", order_by="CartItem.id", cascade="all, delete-orphan"
    )

    @property
    def quantity(self) -> int:
        return sum(i.quantity for i in self.items)

    @property
    def is_open(self) -> bool:
        return self.status in CartStatus.OPEN

    def mark_active(self, now: datetime | None = None) -> None:
        """The shopper did something: the cart is active again, its reminders stop."""
        self.status = CartStatus.ACTIVE
        self.abandoned_at = None
        self.last_activity_at = now or utcnow()


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


class CartRecoveryToken(db.Model):
    """A reminder's "recover my cart" link. Only the SHA-256 of its random secret is kept: a
    copy of this table opens no cart."""

    __tablename__ = "cart_recovery_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    step: Mapped[int | None] = mapped_column()  # the reminder that carried it
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))


class CartRecoveryEmail(db.Model):
    """One reminder of a cart's sequence, queued once: the unique (cart, step) pair means a
    retried job or a second worker cannot send the same step twice."""

    __tablename__ = "cart_recovery_emails"
    __table_args__ = (
        UniqueConstraint("cart_id", "step"),
        CheckConstraint("step >= 1", name="step_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column()
    to_address: Mapped[str] = mapped_column(String(254))
    email_id: Mapped[int | None] = mapped_column(ForeignKey("email_outbox.id", ondelete="SET NULL"))
    queued_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
