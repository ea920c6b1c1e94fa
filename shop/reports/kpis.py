"""Shop KPIs for a period of days, compared with the period of the same length just before.

Days are the staff's days: midnight to midnight in the shop's time zone
(``BABEL_DEFAULT_TIMEZONE``, Europe/Paris), daylight saving time included. Figures
(``shop.reports.measures`` defines them):

- **revenue**: orders *paid* during the period, net of their refunds (a later refund lowers
  the day the order was paid), shipping and taxes included;
- **orders**: those paid orders; **average order value**: revenue / orders;
- **conversion**: orders *placed* during the period / carts *created* during it that held at
  least one item (carts merged into a customer's cart at login are not counted twice);
- **top products**: units and line revenue (as charged, shipping excluded) of the paid
  orders' lines, returned units deducted, by product.

Three queries, whatever the length of the period: revenue and orders per day for both
periods (grouped in SQL; days without orders are filled in Python), the cart and order
counts of both periods, and the top products with their figures in both periods.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, case, cast, exists, func, literal, select, true

from shop import sql
from shop.cart.models import Cart, CartEvent, CartEventKind, CartItem, CartStatus
from shop.extensions import db
from shop.orders.models import Order, OrderLine, OrderStatus
from shop.reports import measures

MAX_DAYS = 366
TOP_PRODUCTS = 10


@dataclass(frozen=True)
class Period:
    """Whole local days, ``start`` to ``end`` included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def dates(self) -> Iterator[date]:
        for offset in range(self.days):
            yield self.start + timedelta(days=offset)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[first instant, first instant after) in UTC."""
        return _midnight(self.start, zone), _midnight(self.end + timedelta(days=1), zone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def delta(current: float, previous: float) -> float | None:
    """Change in percent from ``previous`` to ``current``; None when there was nothing before."""
    if not previous:
        return None
    return (current - previous) * 100 / previous


@dataclass(frozen=True)
class Figures:
    revenue: int
    orders: int
    carts: int
    placed: int

    @property
    def average(self) -> int:
        return measures.average(self.revenue, self.orders)

    @property
    def conversion(self) -> float | None:
        """Orders placed per cart with items, in percent."""
        return self.placed * 100 / self.carts if self.carts else None


@dataclass(frozen=True)
class Day:
    day: date
    revenue: int
    orders: int
    previous_day: date
    previous_revenue: int
    previous_orders: int


@dataclass(frozen=True)
class TopProduct:
    product_id: int | None
    sku: str
    title_fr: str
    title_en: str
    units: int
    revenue: int
    previous_units: int
    previous_revenue: int

    def title(self, locale: str) -> str:
        return self.title_fr if locale == "fr" else self.title_en


@dataclass(frozen=True)
class Report:
    period: Period
    previous: Period
    current: Figures
    before: Figures
    days: list[Day]
    top: list[TopProduct]
    timezone: str

    def change(self, name: str) -> float | None:
        now, then = getattr(self.current, name), getattr(self.before, name)
        if now is None or then is None:
            return None
        return delta(now, then)


def _local_days(column: Any, zone: ZoneInfo) -> Any:
    """The local calendar day of a UTC timestamp, in SQL.

    PostgreSQL converts with the zone's rules; SQLite (the embedded default) knows no time
    zones, so it groups by UTC hour and ``_fold`` moves each hour to its local day (the
    shop's zones are whole hours off UTC).
    """
    return sql.local_hour_or_day(column, zone)


def _fold(bucket: Any, zone: ZoneInfo) -> date:
    if isinstance(bucket, date):
        return bucket
    hour = datetime.strptime(str(bucket), "%Y-%m-%d %H").replace(tzinfo=UTC)
    return hour.astimezone(zone).date()


def report(period: Period, zone: ZoneInfo) -> Report:
    previous = period.previous()
    start, end = period.bounds(zone)
    previous_start, _ = previous.bounds(zone)

    # 1. Revenue and paid orders per local day, both periods.
    day = _local_days(Order.paid_at, zone).label("day")
    per_day: dict[date, list[int]] = {}
    for row in db.session.execute(
        select(day, func.count(Order.id), func.coalesce(func.sum(measures.NET_REVENUE), 0))
        .where(Order.paid_at >= previous_start, Order.paid_at < end)
        .group_by(day)
    ):
        totals = per_day.setdefault(_fold(row[0], zone), [0, 0])
        totals[0] += row[1]
        totals[1] += row[2]

    # 2. Carts with items created, and orders placed, in each period.
    def in_current(column: Any) -> Any:
        return (column >= start) & (column < end)

    def in_previous(column: Any) -> Any:
        return (column >= previous_start) & (column < start)

    had_items = exists().where(CartItem.cart_id == Cart.id) | exists().where(
        CartEvent.cart_id == Cart.id, CartEvent.kind == CartEventKind.ADDED
    )
    carts = (
        select(
            func.count(Cart.id).filter(in_current(Cart.created_at)),
            func.count(Cart.id).filter(in_previous(Cart.created_at)),
        )
        .where(
            Cart.created_at >= previous_start,
            Cart.created_at < end,
            Cart.status != CartStatus.MERGED,
            had_items,
        )
        .subquery()
    )
    placed = (
        select(
            func.count(Order.id).filter(in_current(Order.placed_at)),
            func.count(Order.id).filter(in_previous(Order.placed_at)),
        )
        .where(
            Order.placed_at >= previous_start,
            Order.placed_at < end,
            Order.status != OrderStatus.DRAFT,
        )
        .subquery()
    )
    carts_now, carts_before, placed_now, placed_before = db.session.execute(
        select(*carts.c, *placed.c).select_from(carts.join(placed, true()))  # one row each
    ).one()

    # 3. Top products of the period, with the same products' figures before.
    kept = OrderLine.quantity - OrderLine.quantity_refunded
    # A line's revenue for the units kept, rounded half up to the cent (integers only).
    line_revenue = (2 * OrderLine.line_total * kept + OrderLine.quantity) // (
        2 * OrderLine.quantity
    )
    key = func.coalesce(cast(OrderLine.product_id, String), literal("sku:") + OrderLine.sku)
    now_paid = in_current(Order.paid_at)

    def both(value: Any) -> tuple[Any, Any]:
        return (
            func.coalesce(func.sum(case((now_paid, value), else_=0)), 0),
            func.coalesce(func.sum(case((now_paid, 0), else_=value)), 0),
        )

    units_now, units_before = both(kept)
    revenue_now, revenue_before = both(line_revenue)
    top = [
        TopProduct(
            product_id=row.product_id,
            sku=row.sku,
            title_fr=row.title_fr,
            title_en=row.title_en,
            units=int(row.units),
            revenue=int(row.revenue),
            previous_units=int(row.previous_units),
            previous_revenue=int(row.previous_revenue),
        )
        for row in db.session.execute(
            select(
                func.max(OrderLine.product_id).label("product_id"),
                func.max(OrderLine.sku).label("sku"),
                func.max(OrderLine.title_fr).label("title_fr"),
                func.max(OrderLine.title_en).label("title_en"),
                units_now.label("units"),
                revenue_now.label("revenue"),
                units_before.label("previous_units"),
                revenue_before.label("previous_revenue"),
            )
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.paid_at >= previous_start, Order.paid_at < end)
            .group_by(key)
            .having(units_now > 0)
            .order_by(revenue_now.desc(), units_now.desc(), key)
            .limit(TOP_PRODUCTS)
        )
    ]

    days = [
        Day(
            day=current_day,
            revenue=per_day.get(current_day, [0, 0])[1],
            orders=per_day.get(current_day, [0, 0])[0],
            previous_day=previous_day,
            previous_revenue=per_day.get(previous_day, [0, 0])[1],
            previous_orders=per_day.get(previous_day, [0, 0])[0],
        )
        for current_day, previous_day in zip(period.dates(), previous.dates(), strict=True)
    ]
    return Report(
        period=period,
        previous=previous,
        current=Figures(
            revenue=sum(d.revenue for d in days),
            orders=sum(d.orders for d in days),
            carts=carts_now,
            placed=placed_now,
        ),
        before=Figures(
            revenue=sum(d.previous_revenue for d in days),
            orders=sum(d.previous_orders for d in days),
            carts=carts_before,
            placed=placed_before,
        ),
        days=days,
        top=top,
        timezone=zone.key,
    )


# -- periods staff can pick ---------------------------------------------------------------

PRESETS = ("7d", "30d", "90d", "month")


def preset_period(preset: str, today: date) -> Period:
    """``7d``/``30d``/``90d``: that many days up to today included; ``month``: this month
    so far (compared with the same number of days just before it)."""
    if preset == "month":
        return Period(today.replace(day=1), today)
    days = {"7d": 7, "30d": 30, "90d": 90}[preset]
    return Period(today - timedelta(days=days - 1), today)


def today_in(zone: ZoneInfo, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(zone).date()
