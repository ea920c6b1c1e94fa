"""Stock: one item per tracked variant; every change is a movement in the ledger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shop.clock import utcnow
from shop.extensions import db


class MovementKind:
    RECEIPT = "receipt"
    SALE = "sale"
    RETURN = "return"
    ADJUSTMENT = "adjustment"
    ALL = (RECEIPT, SALE, RETURN, ADJUSTMENT)


class InventoryItem(db.Model):
    __tablename__ = "inventory_items"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
        CheckConstraint(
            "low_stock_threshold IS NULL OR low_stock_threshold >= 0",
            name="low_stock_threshold_not_negative",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(
        ForeignKey("product_variants.id", ondelete="CASCADE"), unique=True
    )
    on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    # None: the shop default (``LOW_STOCK_THRESHOLD``), see ``shop.inventory.adjustments``.
    low_stock_threshold: Mapped[int | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(
        db.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    @property
    def available(self) -> int:
        return max(self.on_hand - self.reserved, 0)


class InventoryMovement(db.Model):
    __tablename__ = "inventory_movements"
    __table_args__ = (
        CheckConstraint(f"kind IN {MovementKind.ALL!r}", name="kind_known"),
        CheckConstraint("quantity <> 0", name="quantity_not_zero"),
        Index("ix_inventory_movements_variant_created", "variant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("product_variants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column()  # signed: + into stock, - out of it
    reason: Mapped[str] = mapped_column(String(255))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)


class InventoryReservation(db.Model):
    """Stock held for a checkout (by cart) or an unpaid order, until ``expires_at``."""

    __tablename__ = "inventory_reservations"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_inventory_reservations_expires", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("product_variants.id", ondelete="CASCADE"))
    cart_id: Mapped[int | None] = mapped_column(
        ForeignKey("carts.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    quantity: Mapped[int] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
