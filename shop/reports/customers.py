"""Customers for the back office: search and a page of them, and one customer's record.

A customer's orders are those of ``measures.orders_of_customer`` (logged in, or as a guest
with the account's email). Names come from the order snapshots: the shop keeps no address
book, so the billing name of a customer's latest order is the name staff know them by.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select

from shop.accounts.models import Role, User
from shop.cart.models import Cart, CartItem, CartStatus
from shop.emails import suppression
from shop.extensions import db
from shop.orders.models import Order
from shop.reports import measures

PER_PAGE = 25
MAX_SEARCH_WORDS = 5
ORDERS_SHOWN = 100

#: The order snapshot fields a name search looks at.
_NAME_KEYS = ("first_name", "last_name", "company")


@dataclass(frozen=True)
class CustomerRow:
    id: int
    email: str
    name: str
    created_at: datetime
    anonymized_at: datetime | None
    active: bool
    orders: int = 0  # paid
    revenue: int = 0
    last_order_at: datetime | None = None


@dataclass(frozen=True)
class CustomerPage:
    rows: list[CustomerRow]
    total: int
    page: int
    pages: int
    q: str


@dataclass(frozen=True)
class Lifetime:
    placed: int
    paid: int
    revenue: int
    first_order_at: datetime | None
    last_order_at: datetime | None

    @property
    def average(self) -> int:
        return measures.average(self.revenue, self.paid)


@dataclass(frozen=True)
class OrderRow:
    id: int
    number: str
    status: str
    placed_at: datetime | None
    total: int
    amount_refunded: int
    currency: str
    payment_method: str
    guest: bool  # placed without logging in, with the account's email


@dataclass
class CustomerRecord:
    user: User
    lifetime: Lifetime
    orders: list[OrderRow]
    more_orders: bool
    addresses: list[dict[str, str]] = field(default_factory=list)
    open_cart_items: int = 0
    recovery_consent_at: datetime | None = None
    unsubscribed: bool = False  # on the marketing suppression list


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _word_matches(word: str) -> ColumnElement[bool]:
    pattern = _like(word.lower())
    names = [
        func.lower(column[key].as_string()).like(pattern, escape="\\")
        for column in (Order.billing_address, Order.shipping_address)
        for key in _NAME_KEYS
    ]
    return or_(
        func.lower(User.email).like(pattern, escape="\\"),
        exists().where(measures.orders_of_customer(), or_(*names)),
    )


def search_words(q: str) -> list[str]:
    return q.split()[:MAX_SEARCH_WORDS]


def _latest_billing() -> Any:
    return (
        select(Order.billing_address)
        .where(measures.orders_of_customer(), measures.IS_PLACED)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(1)
        .correlate(User)
        .scalar_subquery()
    )


def full_name(address: dict[str, Any] | None) -> str:
    if not address:
        return ""
    parts = (address.get("first_name"), address.get("last_name"))
    return " ".join(str(p) for p in parts if p)


def customers(q: str = "", page: int = 1, per_page: int = PER_PAGE) -> CustomerPage:
    """A page of customer accounts (newest first) whose email or order names contain every
    word of ``q``. Three queries: the count, the page, the page's order totals."""
    q = " ".join(q.split())[:200]
    where = [User.role == Role.CUSTOMER, *(_word_matches(w) for w in search_words(q))]
    total = db.session.scalar(select(func.count(User.id)).where(*where)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    found = db.session.execute(
        select(
            User.id,
            User.email,
            User.created_at,
            User.anonymized_at,
            User.is_active_account,
            _latest_billing().label("billing"),
        )
        .where(*where)
        .order_by(User.created_at.desc(), User.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    stats: dict[int, tuple[int, int, datetime | None]] = {}
    if found:
        stats = {
            row.id: (row.paid, row.revenue, row.last_order_at)
            for row in db.session.execute(
                select(
                    User.id,
                    measures.paid_count().label("paid"),
                    measures.paid_revenue().label("revenue"),
                    func.max(Order.placed_at).label("last_order_at"),
                )
                .join(Order, measures.orders_of_customer())
                .where(User.id.in_([r.id for r in found]), measures.IS_PLACED)
                .group_by(User.id)
            )
        }
    rows = [
        CustomerRow(
            id=r.id,
            email=r.email,
            name=full_name(r.billing),
            created_at=r.created_at,
            anonymized_at=r.anonymized_at,
            active=r.is_active_account and r.anonymized_at is None,
            **dict(zip(("orders", "revenue", "last_order_at"), stats.get(r.id, ()), strict=False)),
        )
        for r in found
    ]
    return CustomerPage(rows=rows, total=total, page=page, pages=pages, q=q)


def find_customer(user_id: int) -> User | None:
    user = db.session.get(User, user_id)
    return user if user is not None and user.role == Role.CUSTOMER else None


def _address_key(address: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(address.get(k) or "").casefold() for k in sorted(address))


def customer_record(user: User) -> CustomerRecord:
    """One customer's page: lifetime totals, latest orders, the addresses they used, consent.

    Five queries whatever the number of orders.
    """
    mine = and_(measures.orders_of_customer(), User.id == user.id, measures.IS_PLACED)
    totals = db.session.execute(
        select(
            func.count(Order.id).label("placed"),
            measures.paid_count().label("paid"),
            measures.paid_revenue().label("revenue"),
            func.min(Order.placed_at).label("first"),
            func.max(Order.placed_at).label("last"),
        )
        .select_from(User)
        .join(Order, mine)
    ).one()
    orders = db.session.execute(
        select(
            Order.id,
            Order.number,
            Order.status,
            Order.placed_at,
            Order.total,
            Order.amount_refunded,
            Order.currency,
            Order.payment_method,
            Order.customer_id,
            Order.shipping_address,
            Order.billing_address,
        )
        .select_from(User)
        .join(Order, mine)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(ORDERS_SHOWN + 1)
    ).all()
    addresses: list[dict[str, str]] = []
    seen: set[tuple[str, ...]] = set()
    for row in orders:
        for address in (row.shipping_address, row.billing_address):
            if address and (key := _address_key(address)) not in seen:
                seen.add(key)
                addresses.append({k: str(v or "") for k, v in address.items()})
    cart = db.session.execute(
        select(Cart.recovery_consent_at, func.coalesce(func.sum(CartItem.quantity), 0))
        .outerjoin(CartItem, CartItem.cart_id == Cart.id)
        .where(Cart.customer_id == user.id, Cart.status.in_(CartStatus.OPEN))
        .group_by(Cart.id, Cart.recovery_consent_at)
    ).first()
    return CustomerRecord(
        user=user,
        lifetime=Lifetime(
            placed=totals.placed,
            paid=totals.paid,
            revenue=totals.revenue,
            first_order_at=totals.first,
            last_order_at=totals.last,
        ),
        orders=[
            OrderRow(
                id=r.id,
                number=r.number,
                status=r.status,
                placed_at=r.placed_at,
                total=r.total,
                amount_refunded=r.amount_refunded,
                currency=r.currency,
                payment_method=r.payment_method,
                guest=r.customer_id is None,
            )
            for r in orders[:ORDERS_SHOWN]
        ],
        more_orders=len(orders) > ORDERS_SHOWN,
        addresses=addresses,
        open_cart_items=cart[1] if cart else 0,
        recovery_consent_at=cart[0] if cart else None,
        unsubscribed=suppression.is_suppressed(user.email),
    )
