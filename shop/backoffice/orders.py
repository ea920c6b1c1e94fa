"""Order reads for the back office: the filtered list, the CSV rows, one order's full story.

The list runs two queries (a count and a page) whatever the page size; the detail runs a
fixed number (one per kind of record), whatever the number of lines, payments or events;
the export streams its rows from a server-side cursor, a batch at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask_babel import get_timezone
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import selectinload

from shop import sql
from shop.accounts.models import User
from shop.audit.models import AuditLog
from shop.backoffice.stock import like_pattern
from shop.emails.models import EmailMessage
from shop.emails.services import message_id_for
from shop.extensions import db
from shop.inventory.models import InventoryMovement
from shop.invoices.models import Invoice
from shop.orders.models import Order, OrderStatus, Payment, Refund, Shipment
from shop.outbox.models import OutboxEvent
from shop.paging import Page, paginate

PER_PAGE = 50
EXPORT_BATCH = 500
PAYMENT_METHODS = ("card", "bank_transfer")
#: audit actions whose entry names an email queued again (``after["email_id"]``)
RESEND_ACTION = "order.resend_email"


@dataclass(frozen=True)
class OrderFilters:
    q: str = ""
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    amount_min: int | None = None  # minor units, on the order total
    amount_max: int | None = None
    payment_method: str = ""

    def query_args(self, amount_text: dict[str, str] | None = None) -> dict[str, str]:
        """The filters as URL query arguments (for links that keep them)."""
        args = {
            "q": self.q,
            "status": self.status,
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "payment": self.payment_method,
            **(amount_text or {}),
        }
        return {k: v for k, v in args.items() if v}


def _local_midnight(day: date) -> datetime:
    """The start of ``day`` in the shop's time zone, as a UTC instant."""
    return datetime.combine(day, time.min, tzinfo=get_timezone()).astimezone(UTC)


def _name(address: Any) -> ColumnElement[str]:
    return sql.concat(
        func.coalesce(address["first_name"].as_string(), ""),
        " ",
        func.coalesce(address["last_name"].as_string(), ""),
    )


def _where(query: Select[Any], filters: OrderFilters) -> Select[Any]:
    if filters.q:
        pattern = like_pattern(filters.q.strip())
        query = query.where(
            or_(
                Order.number.ilike(pattern, escape="\\"),
                Order.email.ilike(pattern, escape="\\"),
                _name(Order.billing_address).ilike(pattern, escape="\\"),
                _name(Order.shipping_address).ilike(pattern, escape="\\"),
            )
        )
    if filters.status in OrderStatus.ALL:
        query = query.where(Order.status == filters.status)
    if filters.date_from is not None:
        query = query.where(Order.placed_at >= _local_midnight(filters.date_from))
    if filters.date_to is not None:
        query = query.where(Order.placed_at < _local_midnight(filters.date_to + timedelta(days=1)))
    if filters.amount_min is not None:
        query = query.where(Order.total >= filters.amount_min)
    if filters.amount_max is not None:
        query = query.where(Order.total <= filters.amount_max)
    if filters.payment_method in PAYMENT_METHODS:
        query = query.where(Order.payment_method == filters.payment_method)
    return query


# -- the list --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRow:
    id: int
    number: str
    status: str
    placed_at: datetime | None
    created_at: datetime
    email: str
    name: str
    total: int
    amount_refunded: int
    currency: str
    payment_method: str


def order_page(filters: OrderFilters, *, page: int = 1, per_page: int = PER_PAGE) -> Page[OrderRow]:
    """Orders matching ``filters``, newest first."""
    query = _where(
        select(
            Order.id,
            Order.number,
            Order.status,
            Order.placed_at,
            Order.created_at,
            Order.email,
            _name(Order.billing_address).label("name"),
            Order.total,
            Order.amount_refunded,
            Order.currency,
            Order.payment_method,
        ),
        filters,
    ).order_by(Order.id.desc())
    rows, total, page = paginate(query, page, per_page)
    return Page([OrderRow(*row) for row in rows], total, page, per_page)


# -- the export ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRow:
    number: str
    placed_at: datetime | None
    status: str
    email: str
    billing_address: dict[str, Any]
    shipping_address: dict[str, Any]
    payment_method: str
    shipping_method_name: dict[str, str]
    currency: str
    subtotal: int
    shipping_total: int
    tax_total: int
    total: int
    amount_refunded: int


def export_rows(filters: OrderFilters, batch: int = EXPORT_BATCH) -> Iterator[ExportRow]:
    """Every matching order, oldest first, read ``batch`` rows at a time from a server-side
    cursor: the table never sits in memory, whatever its size."""
    query = _where(
        select(
            Order.number,
            Order.placed_at,
            Order.status,
            Order.email,
            Order.billing_address,
            Order.shipping_address,
            Order.payment_method,
            Order.shipping_method_name,
            Order.currency,
            Order.subtotal,
            Order.shipping_total,
            Order.tax_total,
            Order.total,
            Order.amount_refunded,
        ),
        filters,
    ).order_by(Order.id)
    result = db.session.execute(query.execution_options(yield_per=batch))
    for partition in result.partitions():
        for row in partition:
            yield ExportRow(*row)


# -- one order -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to an order; ``kind`` says how to show ``record``."""

    at: datetime
    kind: str
    record: Any
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class OrderDetail:
    order: Order
    payments: list[Payment]
    refunds: list[tuple[Refund, str | None]]  # (refund, actor email)
    shipments: list[Shipment]
    invoices: list[Invoice]
    events: list[OutboxEvent]
    emails: list[EmailMessage]
    audit: list[AuditLog]
    movements: list[tuple[InventoryMovement, str]]  # (movement, SKU)
    timeline: list[TimelineEntry]

    @property
    def amount_paid(self) -> int:
        return sum(p.amount for p in self.payments if p.status == "succeeded")

    def restockable(self) -> dict[int, int]:
        """Per order line: how many units may still come back to stock."""
        return {
            line.id: line.quantity - line.quantity_refunded
            for line in self.order.lines
            if line.variant_id
        }

    def events_of(self, event_type: str) -> list[OutboxEvent]:
        return [e for e in self.events if e.type == event_type]


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite gives naive UTC datetimes back; PostgreSQL aware ones."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def order_events(order_id: int) -> list[OutboxEvent]:
    return list(
        db.session.execute(
            select(OutboxEvent).where(OutboxEvent.order_id == order_id).order_by(OutboxEvent.id)
        ).scalars()
    )


def order_detail(order_id: int) -> OrderDetail | None:
    """Everything staff see on an order page, in a fixed number of queries."""
    order = db.session.execute(
        select(Order)
        .where(Order.id == order_id)
        .options(selectinload(Order.lines), selectinload(Order.tax_lines))
    ).scalar_one_or_none()
    if order is None:
        return None
    payments = list(
        db.session.execute(
            select(Payment).where(Payment.order_id == order_id).order_by(Payment.id)
        ).scalars()
    )
    refunds = [
        (refund, email)
        for refund, email in db.session.execute(
            select(Refund, User.email)
            .outerjoin(User, User.id == Refund.actor_id)
            .where(Refund.order_id == order_id)
            .order_by(Refund.id)
        )
    ]
    shipments = list(
        db.session.execute(
            select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.id)
        ).scalars()
    )
    invoices = list(
        db.session.execute(
            select(Invoice).where(Invoice.order_id == order_id).order_by(Invoice.id)
        ).scalars()
    )
    events = order_events(order_id)
    audit = list(
        db.session.execute(
            select(AuditLog)
            .where(AuditLog.entity_type == "order", AuditLog.entity_id == str(order_id))
            .order_by(AuditLog.at, AuditLog.id)
        ).scalars()
    )
    message_ids = [message_id_for(f"{e.type}.{e.id}") for e in events]
    resent = [
        int(entry.after["email_id"])
        for entry in audit
        if entry.action == RESEND_ACTION and (entry.after or {}).get("email_id")
    ]
    emails = (
        list(
            db.session.execute(
                select(EmailMessage)
                .where(or_(EmailMessage.message_id.in_(message_ids), EmailMessage.id.in_(resent)))
                .order_by(EmailMessage.id)
            ).scalars()
        )
        if message_ids or resent
        else []
    )
    from shop.catalogue.models import ProductVariant

    movements = [
        (movement, sku)
        for movement, sku in db.session.execute(
            select(InventoryMovement, ProductVariant.sku)
            .join(ProductVariant, ProductVariant.id == InventoryMovement.variant_id)
            .where(InventoryMovement.order_id == order_id)
            .order_by(InventoryMovement.id)
        )
    ]
    detail = OrderDetail(
        order=order,
        payments=payments,
        refunds=refunds,
        shipments=shipments,
        invoices=invoices,
        events=events,
        emails=emails,
        audit=audit,
        movements=movements,
        timeline=[],
    )
    detail.timeline = _timeline(detail)
    return detail


def _timeline(detail: OrderDetail) -> list[TimelineEntry]:
    order = detail.order
    entries: list[TimelineEntry] = []

    def add(at: datetime | None, kind: str, record: Any, **extra: Any) -> None:
        moment = _aware(at)
        if moment is not None:
            entries.append(TimelineEntry(moment, kind, record, extra))

    add(order.created_at if order.placed_at is None else order.placed_at, "placed", order)
    for payment in detail.payments:
        add(payment.created_at, "payment", payment)
        if payment.succeeded_at is not None:
            add(payment.succeeded_at, "payment_succeeded", payment)
    add(order.paid_at, "paid", order)
    add(order.cancelled_at, "cancelled", order)
    for shipment in detail.shipments:
        add(shipment.shipped_at, "shipment", shipment)
    for refund, actor_email in detail.refunds:
        add(refund.created_at, "refund", refund, actor_email=actor_email)
    for invoice in detail.invoices:
        add(invoice.issued_at, "invoice", invoice)
    for movement, sku in detail.movements:
        add(movement.created_at, "movement", movement, sku=sku)
    for event in detail.events:
        add(event.created_at, "event", event)
    for email in detail.emails:
        add(email.created_at, "email", email)
    for entry in detail.audit:
        add(entry.at, "audit", entry)
    order_of_kinds = {
        "placed": 0,
        "payment": 1,
        "payment_succeeded": 2,
        "paid": 3,
        "cancelled": 3,
        "shipment": 3,
        "refund": 3,
        "movement": 4,
        "invoice": 5,
        "audit": 6,
        "event": 7,
        "email": 8,
    }
    entries.sort(key=lambda e: (e.at, order_of_kinds.get(e.kind, 9)))
    return entries
