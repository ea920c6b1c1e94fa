"""What a customer sees of their orders: the list in their account, one order with its
shipments (its invoices and credit notes: ``shop.invoices.queries``). A fixed number of
queries per page, whatever the number of orders or lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from shop.extensions import db
from shop.orders.models import Order, Shipment

PAGE_SIZE = 20


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


def order_of(customer_id: int, number: str) -> CustomerOrder | None:
    """One of the customer's orders by its number (None for anyone else's): three queries
    for the order (lines and tax lines come with it), then its shipments. Its invoices and
    credit notes: ``shop.invoices.queries.documents_of``."""
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
    return CustomerOrder(order, shipments)


def order_number_of(customer_id: int, number: str) -> int | None:
    """The id of the customer's order ``number`` (None for anyone else's)."""
    return db.session.execute(
        select(Order.id).where(Order.customer_id == customer_id, Order.number == number)
    ).scalar_one_or_none()
