"""What a customer sees of their orders: the list in their account, one order with its
shipments, and the invoices and credit notes they may download (also from the guest
confirmation link). A fixed number of queries per page, whatever the number of orders,
lines or documents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from shop.extensions import db
from shop.invoices.models import Invoice, InvoiceKind
from shop.orders.models import Order, Shipment

PAGE_SIZE = 20


@dataclass(frozen=True)
class Document:
    """An issued invoice or credit note, without its snapshot (the page needs no more)."""

    id: int
    kind: str
    full_number: str
    issued_at: datetime
    ready: bool  # its PDF is rendered (until then the page says it is being prepared)

    @property
    def is_credit_note(self) -> bool:
        return self.kind == InvoiceKind.CREDIT_NOTE


@dataclass(frozen=True)
class OrderRow:
    id: int
    number: str
    status: str
    placed_at: datetime
    total: int
    currency: str


@dataclass(frozen=True)
class OrderPage:
    rows: list[OrderRow]
    total: int
    page: int
    per_page: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


class PageOutOfRange(LookupError):
    pass


def orders_of(customer_id: int, page: int = 1, per_page: int = PAGE_SIZE) -> OrderPage:
    """The customer's placed orders, newest first: one query (the count rides along)."""
    if page < 1:
        raise PageOutOfRange(page)
    rows = db.session.execute(
        select(
            Order.id,
            Order.number,
            Order.status,
            Order.placed_at,
            Order.total,
            Order.currency,
            func.count().over().label("count"),
        )
        .where(Order.customer_id == customer_id, Order.placed_at.is_not(None))
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    if not rows and page > 1:
        raise PageOutOfRange(page)
    total = rows[0].count if rows else 0
    return OrderPage([OrderRow(*row[:6]) for row in rows], total, page, per_page)


@dataclass(frozen=True)
class CustomerOrder:
    order: Order
    shipments: list[Shipment]
    documents: list[Document]


def order_of(customer_id: int, number: str) -> CustomerOrder | None:
    """One of the customer's orders by its number (None for anyone else's): three queries
    for the order (lines and tax lines come with it), then shipments and documents."""
    order = db.session.execute(
        select(Order)
        .where(
            Order.customer_id == customer_id,
            Order.number == number,
            Order.placed_at.is_not(None),
        )
        .options(selectinload(Order.lines), selectinload(Order.tax_lines))
    ).scalar_one_or_none()
    if order is None:
        return None
    shipments = list(
        db.session.execute(
            select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.shipped_at)
        ).scalars()
    )
    return CustomerOrder(order, shipments, documents_of(order.id))


def documents_of(order_id: int) -> list[Document]:
    """The order's invoice and credit notes, oldest first."""
    rows = db.session.execute(
        select(
            Invoice.id,
            Invoice.kind,
            Invoice.full_number,
            Invoice.issued_at,
            Invoice.pdf_path.is_not(None),
        )
        .where(Invoice.order_id == order_id)
        .order_by(Invoice.issued_at, Invoice.id)
    ).all()
    return [Document(*row) for row in rows]


def document_of(order_id: int, invoice_id: int) -> Invoice | None:
    """The invoice or credit note ``invoice_id`` if it belongs to ``order_id``."""
    invoice = db.session.get(Invoice, invoice_id)
    return invoice if invoice is not None and invoice.order_id == order_id else None


def order_number_of(customer_id: int, number: str) -> int | None:
    """The id of the customer's order ``number`` (None for anyone else's)."""
    return db.session.execute(
        select(Order.id).where(Order.customer_id == customer_id, Order.number == number)
    ).scalar_one_or_none()
