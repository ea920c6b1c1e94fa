"""Orders: a human number, a status machine, and lines that snapshot what was sold."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Sequence, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.clock import utcnow
from shop.extensions import db


class InvalidTransition(Exception):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"an order cannot go from {current} to {wanted}")
        self.current, self.wanted = current, wanted


class OrderStatus:
    DRAFT = "draft"
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    FULFILLED = "fulfilled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    ALL = (
        DRAFT,
        PENDING_PAYMENT,
        PAID,
        FULFILLED,
        COMPLETED,
        CANCELLED,
        PARTIALLY_REFUNDED,
        REFUNDED,
    )
    TRANSITIONS: dict[str, frozenset[str]] = {
        DRAFT: frozenset({PENDING_PAYMENT, CANCELLED}),
        PENDING_PAYMENT: frozenset({PAID, CANCELLED}),
        PAID: frozenset({FULFILLED, PARTIALLY_REFUNDED, REFUNDED}),
        FULFILLED: frozenset({COMPLETED, PARTIALLY_REFUNDED, REFUNDED}),
        COMPLETED: frozenset({PARTIALLY_REFUNDED, REFUNDED}),
        PARTIALLY_REFUNDED: frozenset({PARTIALLY_REFUNDED, REFUNDED, FULFILLED, COMPLETED}),
        CANCELLED: frozenset(),
        REFUNDED: frozenset(),
    }


# Order numbers on PostgreSQL: one sequence, so concurrent checkouts never queue on a row
# lock; CMD-<year>-<its value>, unique, increasing, with gaps (rolled-back orders).
ORDER_NUMBERS = Sequence("order_numbers", metadata=db.metadata)


class OrderNumberSequence(db.Model):
    """A counter per year (CMD-2026-000123), for SQLite, which has no sequences: one
    process writes at a time there anyway."""

    __tablename__ = "order_number_sequences"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(default=0)


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(f"status IN {OrderStatus.ALL!r}", name="status_known"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        Index("ix_orders_customer_placed", "customer_id", "placed_at"),
        Index("ix_orders_status_placed", "status", "placed_at"),
        # "Has this shopper ordered since?" (cart recovery stops for them).
        Index("ix_orders_email_placed", "email", "placed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(24), default=OrderStatus.DRAFT)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cart_id: Mapped[int | None] = mapped_column(ForeignKey("carts.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(5))
    currency: Mapped[str] = mapped_column(String(3))
    prices_include_tax: Mapped[bool] = mapped_column()
    subtotal: Mapped[int] = mapped_column()  # lines, as displayed (incl. or excl. tax)
    shipping_total: Mapped[int] = mapped_column(default=0)
    tax_total: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column()  # what the customer pays
    amount_refunded: Mapped[int] = mapped_column(default=0)
    shipping_address: Mapped[dict[str, Any]] = mapped_column(JSON)
    billing_address: Mapped[dict[str, Any]] = mapped_column(JSON)
    shipping_method_code: Mapped[str] = mapped_column(String(40))
    shipping_method_name: Mapped[dict[str, str]] = mapped_column(JSON)  # {"fr": .., "en": ..}
    payment_method: Mapped[str] = mapped_column(String(20))  # card | bank_transfer
    # The tax components the shipping was charged at, like ``OrderLine.tax_components``.
    shipping_tax_components: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, server_default="[]"
    )
    # True for orders placed before the lines kept their components: a migration filled
    # them in from the tax rates of its day, matched against the order's tax lines.
    tax_rates_backfilled: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    placed_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        db.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    tax_lines: Mapped[list[OrderTaxLine]] = relationship(
        back_populates="order", order_by="OrderTaxLine.position", cascade="all, delete-orphan"
    )

    def can_move_to(self, status: str) -> bool:
        return status in OrderStatus.TRANSITIONS[self.status]

    def move_to(self, status: str) -> None:
        if not self.can_move_to(status):
            raise InvalidTransition(self.status, status)
        self.status = status

    @property
    def refundable(self) -> int:
        return self.total - self.amount_refunded


class OrderLine(db.Model):
    """What was sold, frozen: titles in both languages, SKU, unit price, tax."""

    __tablename__ = "order_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int | None] = mapped_column(
        ForeignKey("product_variants.id", ondelete="SET NULL")
    )
    product_id: Mapped[int | None] = mapped_column()
    sku: Mapped[str] = mapped_column(String(64))
    title_fr: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    variant_fr: Mapped[str] = mapped_column(String(200), default="")
    variant_en: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[int] = mapped_column()
    unit_price: Mapped[int] = mapped_column()  # as displayed (incl. or excl. tax)
    tax_class: Mapped[str] = mapped_column(String(16))
    line_total: Mapped[int] = mapped_column()
    tax_amount: Mapped[int] = mapped_column(default=0)
    # The components the line was taxed at, as applied at checkout (its tax class's rates
    # then): [{"name_fr": "TPS", "name_en": "GST", "rate_ppm": 50000}, ...]. Invoices
    # print these, never the tax rates of the day they are issued.
    tax_components: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, server_default="[]"
    )
    quantity_refunded: Mapped[int] = mapped_column(default=0)

    order: Mapped[Order] = relationship(back_populates="lines")

    def title(self, locale: str) -> str:
        return self.title_fr if locale == "fr" else self.title_en


class OrderTaxLine(db.Model):
    """One tax component of an order (e.g. TPS/GST 5 % and TVQ/QST 9,975 % separately)."""

    __tablename__ = "order_tax_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    name_fr: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(60))
    rate_ppm: Mapped[int] = mapped_column()
    taxable_amount: Mapped[int] = mapped_column()
    amount: Mapped[int] = mapped_column()
    position: Mapped[int] = mapped_column(default=0)

    order: Mapped[Order] = relationship(back_populates="tax_lines")


class Shipment(db.Model):
    """A parcel handed to a carrier (``shop.orders.fulfilment``): the carrier's code and its
    name and tracking link as written to the customer, in the order's language."""

    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    carrier: Mapped[str] = mapped_column(String(60))
    carrier_name: Mapped[str] = mapped_column(String(80), default="", server_default="")
    tracking_number: Mapped[str] = mapped_column(String(80))
    tracking_url: Mapped[str | None] = mapped_column(String(300))
    shipped_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


# -- payments and refunds: what was paid and paid back on an order (the payment providers'
# side, Stripe and its webhooks, is shop.payments, above the orders)


class PaymentStatus:
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ALL = (PENDING, REQUIRES_ACTION, SUCCEEDED, FAILED, CANCELLED)


class Payment(db.Model):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(f"status IN {PaymentStatus.ALL!r}", name="status_known"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(20))  # stripe | bank_transfer
    status: Mapped[str] = mapped_column(String(20), default=PaymentStatus.PENDING)
    amount: Mapped[int] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3))
    intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    succeeded_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))


class Refund(db.Model):
    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="SET NULL"))
    amount: Mapped[int] = mapped_column()
    provider_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    reason: Mapped[str] = mapped_column(String(255), default="")
    restocked: Mapped[bool] = mapped_column(default=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
