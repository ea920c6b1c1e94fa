"""Staff changes to stock: corrections with a reason, and low-stock thresholds.

Each correction is one ``adjustment`` movement in the ledger, applied with a conditional
UPDATE (``... WHERE on_hand + delta >= reserved``): never read, check, then write, and never
below what checkouts already hold, so available stock can never go negative. Goods received
go through ``inventory.receive`` (a ``receipt`` movement) instead.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import column, insert, table, update
from sqlalchemy.exc import IntegrityError

from shop import page_cache
from shop.extensions import db
from shop.inventory.models import InventoryItem, InventoryMovement, MovementKind
from shop.inventory.services import InventoryError

DEFAULT_LOW_STOCK_THRESHOLD = 3
MAX_ADJUSTMENT = 1_000_000
MAX_THRESHOLD = 100_000


class ReasonRequired(InventoryError):
    message = _l("Please give a reason for this stock change.")


class NothingToAdjust(InventoryError):
    message = _l("Enter a quantity other than zero.")


class AdjustmentTooLarge(InventoryError):
    message = _l("This quantity is too large.")


class BelowReserved(InventoryError):
    """The correction would leave less stock than checkouts hold (available below zero)."""

    message = _l(
        "Stock cannot go below what is reserved by checkouts: remove at most %(available)d."
    )

    def __init__(self, available: int) -> None:
        super().__init__(f"at most {available} can be removed")
        self.available = available

    def text(self) -> str:
        return str(self.message) % {"available": self.available}


class UnknownVariant(InventoryError):
    message = _l("This variant does not exist.")


def default_low_stock_threshold() -> int:
    """The shop-wide threshold, for variants without their own (``LOW_STOCK_THRESHOLD``)."""
    return int(current_app.config.get("LOW_STOCK_THRESHOLD", DEFAULT_LOW_STOCK_THRESHOLD))


# The rows stock is kept for, by the name the stock tables' foreign keys use: the catalogue
# sits above the inventory (its pages read stock), so the inventory does not import it.
_VARIANTS = table("product_variants", column("id"))


def _check_variant(variant_id: int) -> None:
    found = db.session.execute(
        db.select(_VARIANTS.c.id).where(_VARIANTS.c.id == variant_id)
    ).scalar_one_or_none()
    if found is None:
        raise UnknownVariant(variant_id)


def _ensure_item(variant_id: int) -> None:
    """Create the variant's (empty) stock item if it has none; safe against a racing insert."""
    exists = db.session.execute(
        db.select(InventoryItem.id).where(InventoryItem.variant_id == variant_id)
    ).scalar_one_or_none()
    if exists is not None:
        return
    try:
        with db.session.begin_nested():
            db.session.execute(
                insert(InventoryItem).values(
                    variant_id=variant_id, on_hand=0, reserved=0, updated_at=db.func.now()
                )
            )
    except IntegrityError:
        pass  # another transaction created it first


def adjust(variant_id: int, delta: int, *, reason: str, actor_id: int | None) -> InventoryItem:
    """Correct the variant's stock by ``delta`` units (signed) and record why. Commits.

    Raises ``ReasonRequired``, ``NothingToAdjust``, ``AdjustmentTooLarge``, ``UnknownVariant``
    or ``BelowReserved`` (with how much could be removed); nothing is written then.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired(variant_id)
    if delta == 0:
        raise NothingToAdjust(variant_id)
    if abs(delta) > MAX_ADJUSTMENT:
        raise AdjustmentTooLarge(delta)
    _check_variant(variant_id)
    _ensure_item(variant_id)
    changed = db.session.execute(
        update(InventoryItem)
        .where(
            InventoryItem.variant_id == variant_id,
            InventoryItem.on_hand + delta >= InventoryItem.reserved,
        )
        .values(on_hand=InventoryItem.on_hand + delta)
    ).rowcount
    if changed != 1:
        item = db.session.execute(
            db.select(InventoryItem)
            .where(InventoryItem.variant_id == variant_id)
            .execution_options(populate_existing=True)
        ).scalar_one()
        available = item.available
        db.session.rollback()
        raise BelowReserved(available)
    db.session.add(
        InventoryMovement(
            variant_id=variant_id,
            kind=MovementKind.ADJUSTMENT,
            quantity=delta,
            reason=reason[:255],
            actor_id=actor_id,
        )
    )
    db.session.commit()
    page_cache.catalogue_changed()
    return stock_item(variant_id)


def set_threshold(variant_id: int, threshold: int | None) -> InventoryItem:
    """The variant's own low-stock threshold (None: the shop default). Commits."""
    if threshold is not None and not 0 <= threshold <= MAX_THRESHOLD:
        raise AdjustmentTooLarge(threshold)
    _check_variant(variant_id)
    _ensure_item(variant_id)
    db.session.execute(
        update(InventoryItem)
        .where(InventoryItem.variant_id == variant_id)
        .values(low_stock_threshold=threshold)
    )
    db.session.commit()
    return stock_item(variant_id)


def stock_item(variant_id: int) -> InventoryItem:
    return db.session.execute(
        db.select(InventoryItem)
        .where(InventoryItem.variant_id == variant_id)
        .execution_options(populate_existing=True)
    ).scalar_one()
