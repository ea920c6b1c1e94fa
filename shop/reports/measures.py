"""One definition of the money figures, shared by the customer pages, the KPIs and the
dashboard, so the same order never counts differently on two pages.

- An order *counts as sold* once it has been paid (``paid_at`` set): later refunds keep it
  counted, cancelled or unpaid orders never are.
- Its *revenue* is what the customer paid net of refunds: ``total - amount_refunded``
  (shipping and taxes included, as charged), in the store currency's minor units.
- An order is *placed* once checkout has turned the cart into it (``placed_at`` set).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, or_

from shop.accounts.models import User
from shop.orders.models import Order

IS_PAID: ColumnElement[bool] = Order.paid_at.is_not(None)
IS_PLACED: ColumnElement[bool] = Order.placed_at.is_not(None)
NET_REVENUE = Order.total - Order.amount_refunded


def paid_count() -> ColumnElement[int]:
    return func.count(Order.id).filter(IS_PAID)


def paid_revenue() -> ColumnElement[int]:
    return func.coalesce(func.sum(NET_REVENUE).filter(IS_PAID), 0)


def orders_of_customer() -> ColumnElement[bool]:
    """An order belongs to a customer account when it was placed while logged in, or as a
    guest with the account's email address (the same person, before or without logging in:
    their lifetime totals, their GDPR export and anonymization include it)."""
    return or_(
        Order.customer_id == User.id,
        and_(Order.customer_id.is_(None), Order.email == User.email),
    )


def average(revenue: int, count: int) -> int:
    """Average order value in minor units, rounded half up; 0 without orders."""
    return (2 * revenue + count) // (2 * count) if count else 0
