"""Stock reads for the back office: levels, the movement ledger, current holds.

Each function runs a fixed number of queries (a count and a page), whatever the page size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import aliased

from shop.accounts.models import User
from shop.catalogue.models import ProductTranslation, ProductVariant
from shop.extensions import db
from shop.inventory.adjustments import default_low_stock_threshold
from shop.inventory.models import (
    InventoryItem,
    InventoryMovement,
    InventoryReservation,
    MovementKind,
)
from shop.orders.models import Order
from shop.paging import Page, paginate

PER_PAGE = 50


def like_pattern(text: str) -> str:
    """``%text%`` for ILIKE, with the user's own ``%`` and ``_`` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# -- levels ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StockFilters:
    q: str = ""
    low: bool = False


@dataclass(frozen=True)
class StockRow:
    variant_id: int
    product_id: int
    sku: str
    title: str
    options: str
    on_hand: int
    reserved: int
    own_threshold: int | None  # None: the shop default
    threshold: int
    active: bool

    @property
    def available(self) -> int:
        return max(self.on_hand - self.reserved, 0)

    @property
    def low(self) -> bool:
        return self.available <= self.threshold


def _other_lang(lang: str) -> str:
    return "en" if lang == "fr" else "fr"


def _levels_query(
    lang: str, default: int
) -> tuple[Select[Any], ColumnElement[int], ColumnElement[int], ColumnElement[str]]:
    """The levels query and its computed columns (available, threshold, title)."""
    own = aliased(ProductTranslation)
    other = aliased(ProductTranslation)
    title = func.coalesce(own.title, other.title, "")
    on_hand = func.coalesce(InventoryItem.on_hand, 0)
    reserved = func.coalesce(InventoryItem.reserved, 0)
    threshold = func.coalesce(InventoryItem.low_stock_threshold, default)
    query = (
        select(
            ProductVariant.id,
            ProductVariant.product_id,
            ProductVariant.sku,
            title.label("title"),
            ProductVariant.options,
            on_hand.label("on_hand"),
            reserved.label("reserved"),
            InventoryItem.low_stock_threshold,
            threshold.label("threshold"),
            ProductVariant.is_active,
        )
        .select_from(ProductVariant)
        .outerjoin(InventoryItem, InventoryItem.variant_id == ProductVariant.id)
        .outerjoin(own, (own.product_id == ProductVariant.product_id) & (own.locale == lang))
        .outerjoin(
            other,
            (other.product_id == ProductVariant.product_id) & (other.locale == _other_lang(lang)),
        )
        .where(ProductVariant.track_inventory.is_(True))
    )
    return query, on_hand - reserved, threshold, title


def _row(row: Any, lang: str) -> StockRow:
    options = " / ".join(
        str((o.get("value") or {}).get(lang) or "") for o in (row.options or []) if o
    )
    return StockRow(
        variant_id=row.id,
        product_id=row.product_id,
        sku=row.sku,
        title=row.title,
        options=options,
        on_hand=row.on_hand,
        reserved=row.reserved,
        own_threshold=row.low_stock_threshold,
        threshold=row.threshold,
        active=row.is_active,
    )


def stock_levels(
    filters: StockFilters, *, lang: str, page: int = 1, per_page: int = PER_PAGE
) -> Page[StockRow]:
    """Tracked variants with on hand, reserved, available and their threshold. Low-stock
    listings come lowest first; others by SKU."""
    query, available, threshold, title = _levels_query(lang, default_low_stock_threshold())
    if filters.q:
        pattern = like_pattern(filters.q.strip())
        query = query.where(
            or_(ProductVariant.sku.ilike(pattern, escape="\\"), title.ilike(pattern, escape="\\"))
        )
    if filters.low:
        query = query.where(available <= threshold).order_by(available, ProductVariant.sku)
    else:
        query = query.order_by(ProductVariant.sku)
    rows, total, page = paginate(query, page, per_page)
    return Page([_row(r, lang) for r in rows], total, page, per_page)


def stock_level(variant_id: int, *, lang: str) -> StockRow | None:
    query, *_ = _levels_query(lang, default_low_stock_threshold())
    row = db.session.execute(query.where(ProductVariant.id == variant_id)).first()
    return _row(row, lang) if row is not None else None


def variant_exists(variant_id: int) -> bool:
    return db.session.get(ProductVariant, variant_id) is not None


# -- the ledger ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerFilters:
    variant_id: int | None = None
    kind: str = ""
    q: str = ""  # SKU


@dataclass(frozen=True)
class LedgerRow:
    id: int
    created_at: datetime
    variant_id: int
    sku: str
    kind: str
    quantity: int
    reason: str
    order_id: int | None
    order_number: str | None
    actor_email: str | None


def ledger(filters: LedgerFilters, *, page: int = 1, per_page: int = PER_PAGE) -> Page[LedgerRow]:
    """Movements, newest first."""
    query = (
        select(
            InventoryMovement.id,
            InventoryMovement.created_at,
            InventoryMovement.variant_id,
            ProductVariant.sku,
            InventoryMovement.kind,
            InventoryMovement.quantity,
            InventoryMovement.reason,
            InventoryMovement.order_id,
            Order.number,
            User.email,
        )
        .join(ProductVariant, ProductVariant.id == InventoryMovement.variant_id)
        .outerjoin(Order, Order.id == InventoryMovement.order_id)
        .outerjoin(User, User.id == InventoryMovement.actor_id)
        .order_by(InventoryMovement.id.desc())
    )
    if filters.variant_id is not None:
        query = query.where(InventoryMovement.variant_id == filters.variant_id)
    if filters.kind in MovementKind.ALL:
        query = query.where(InventoryMovement.kind == filters.kind)
    if filters.q:
        query = query.where(ProductVariant.sku.ilike(like_pattern(filters.q.strip()), escape="\\"))
    rows, total, page = paginate(query, page, per_page)
    return Page([LedgerRow(*row) for row in rows], total, page, per_page)


# -- holds -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldRow:
    id: int
    variant_id: int
    sku: str
    cart_id: int | None
    order_id: int | None
    order_number: str | None
    quantity: int
    expires_at: datetime
    created_at: datetime


def reservations(
    *, variant_id: int | None = None, page: int = 1, per_page: int = PER_PAGE
) -> Page[HoldRow]:
    """Current holds, the soonest to expire first."""
    query = (
        select(
            InventoryReservation.id,
            InventoryReservation.variant_id,
            ProductVariant.sku,
            InventoryReservation.cart_id,
            InventoryReservation.order_id,
            Order.number,
            InventoryReservation.quantity,
            InventoryReservation.expires_at,
            InventoryReservation.created_at,
        )
        .join(ProductVariant, ProductVariant.id == InventoryReservation.variant_id)
        .outerjoin(Order, Order.id == InventoryReservation.order_id)
        .order_by(InventoryReservation.expires_at, InventoryReservation.id)
    )
    if variant_id is not None:
        query = query.where(InventoryReservation.variant_id == variant_id)
    rows, total, page = paginate(query, page, per_page)
    return Page([HoldRow(*row) for row in rows], total, page, per_page)
