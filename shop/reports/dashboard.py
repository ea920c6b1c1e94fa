"""The back-office home: what needs doing now, counted in one query.

Only the counts a staff member may see are asked for (``None`` for the others), so the
query never touches what their role cannot read.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from shop.catalogue.models import ProductVariant
from shop.extensions import db
from shop.inventory.adjustments import default_low_stock_threshold
from shop.inventory.models import InventoryItem
from shop.orders.models import Order, OrderStatus
from shop.outbox.models import OutboxEvent, OutboxStatus
from shop.reports import measures
from shop.reports.kpis import Period, today_in


@dataclass(frozen=True)
class Counts:
    to_ship: int | None = None  # paid, not yet shipped
    awaiting_transfer: int | None = None  # placed with a bank transfer, not yet paid
    low_stock: int | None = None  # tracked variants at or below their threshold
    dead_events: int | None = None  # outbox events that gave up
    revenue_today: int | None = None  # paid today (shop's day), net of refunds
    paid_today: int | None = None


def _count(*where: Any) -> Any:
    return select(func.count()).select_from(Order).where(*where).scalar_subquery()


def counts(
    *,
    orders: bool,
    stock: bool,
    outbox: bool,
    revenue: bool,
    zone: ZoneInfo,
    now: datetime | None = None,
) -> Counts:
    columns: dict[str, Any] = {}
    if orders:
        columns["to_ship"] = _count(Order.status == OrderStatus.PAID)
        columns["awaiting_transfer"] = _count(
            Order.status == OrderStatus.PENDING_PAYMENT, Order.payment_method == "bank_transfer"
        )
    if stock:
        # The stock pages' rule (``shop.backoffice.stock``): available ≤ threshold,
        # the variant's own or the shop's default; a tracked variant without an item has 0.
        available = func.coalesce(InventoryItem.on_hand, 0) - func.coalesce(
            InventoryItem.reserved, 0
        )
        threshold = func.coalesce(InventoryItem.low_stock_threshold, default_low_stock_threshold())
        columns["low_stock"] = (
            select(func.count())
            .select_from(ProductVariant)
            .outerjoin(InventoryItem, InventoryItem.variant_id == ProductVariant.id)
            .where(ProductVariant.track_inventory.is_(True), available <= threshold)
            .scalar_subquery()
        )
    if outbox:
        columns["dead_events"] = (
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.status == OutboxStatus.DEAD)
            .scalar_subquery()
        )
    if revenue:
        today = today_in(zone, now)
        start, end = Period(today, today).bounds(zone)
        paid_today = (Order.paid_at >= start) & (Order.paid_at < end)
        columns["revenue_today"] = (
            select(func.coalesce(func.sum(measures.NET_REVENUE), 0))
            .where(paid_today)
            .scalar_subquery()
        )
        columns["paid_today"] = _count(paid_today)
    if not columns:
        return Counts()
    row = db.session.execute(select(*(c.label(name) for name, c in columns.items()))).one()
    known = {f.name for f in fields(Counts)}
    return Counts(**{k: int(v) for k, v in row._asdict().items() if k in known})
