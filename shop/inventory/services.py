"""Stock changes, each recorded as a movement, and checkout holds (reservations).

Concurrency: no read-check-write. Holds and sales are conditional UPDATEs on
``inventory_items`` (``... WHERE on_hand - reserved >= :qty``), always taken in variant id
order so two checkouts that want the same variants never deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, delete, insert, select, update

from shop import page_cache
from shop.clock import utcnow
from shop.extensions import db
from shop.inventory.models import (
    InventoryItem,
    InventoryMovement,
    InventoryReservation,
    MovementKind,
)


class InventoryError(Exception):
    message = _l("Stock could not be changed.")


class OutOfStock(InventoryError):
    """Some variants cannot be held: ``variant_ids`` says which."""

    message = _l("Sorry, some items are no longer available in the quantity you chose.")

    def __init__(self, variant_ids: Iterable[int]) -> None:
        self.variant_ids = sorted(set(variant_ids))
        super().__init__(f"out of stock: {self.variant_ids}")


def hold_minutes() -> int:
    return int(current_app.config.get("RESERVATION_MINUTES", 15))


def receive(
    variant_id: int,
    quantity: int,
    *,
    reason: str,
    actor_id: int | None = None,
    commit: bool = True,
) -> InventoryItem:
    """Goods in: creates the variant's stock item on first receipt."""
    if quantity <= 0:
        raise InventoryError("a receipt adds a positive quantity")
    item = db.session.execute(
        db.select(InventoryItem).where(InventoryItem.variant_id == variant_id).with_for_update()
    ).scalar_one_or_none()
    if item is None:
        item = InventoryItem(variant_id=variant_id, on_hand=0, reserved=0)
        db.session.add(item)
    item.on_hand += quantity
    db.session.add(
        InventoryMovement(
            variant_id=variant_id,
            kind=MovementKind.RECEIPT,
            quantity=quantity,
            reason=reason,
            actor_id=actor_id,
        )
    )
    if commit:
        db.session.commit()
        page_cache.catalogue_changed()
    return item


# -- holds -----------------------------------------------------------------------------------
# Checkout runs these on every order, so they are prebuilt Core statements on the tables (no
# unit of work, no statement built per call); the rules are the same as everywhere else.

_items = InventoryItem.__table__
_holds = InventoryReservation.__table__
_free = _items.c.on_hand - _items.c.reserved
_TAKE = (
    update(_items)
    .where(_items.c.variant_id == bindparam("v"), _free >= bindparam("q"))
    .values(reserved=_items.c.reserved + bindparam("q"))
)
_GIVE_BACK = (
    update(_items)
    .where(_items.c.variant_id == bindparam("v"))
    .values(reserved=_items.c.reserved - bindparam("q"))
)
_OPEN_CART_HOLD = and_(_holds.c.cart_id == bindparam("cart"), _holds.c.order_id.is_(None))
_CART_HOLDS = (
    select(_holds.c.id, _holds.c.variant_id, _holds.c.quantity)
    .where(_OPEN_CART_HOLD)
    .order_by(_holds.c.variant_id, _holds.c.id)
    .with_for_update()
)
_EXTEND_CART_HOLDS = update(_holds).where(_OPEN_CART_HOLD).values(expires_at=bindparam("until"))
_CLAIM_CART_HOLDS = (
    update(_holds)
    .where(_OPEN_CART_HOLD)
    .values(order_id=bindparam("order"), expires_at=bindparam("until"))
    .returning(_holds.c.id, _holds.c.variant_id, _holds.c.quantity)
)
_DELETE_HOLDS = delete(_holds).where(_holds.c.id.in_(bindparam("ids", expanding=True)))
_INSERT_HOLD = insert(_holds)


def _take(variant_id: int, quantity: int) -> bool:
    """Hold ``quantity`` units if that many are free; one conditional UPDATE."""
    return db.session.execute(_TAKE, {"v": variant_id, "q": quantity}).rowcount == 1


def _give_back(variant_id: int, quantity: int) -> None:
    db.session.execute(_GIVE_BACK, {"v": variant_id, "q": quantity})


def _wanted(lines: Iterable[tuple[int, int]], tracked: set[int]) -> dict[int, int]:
    wanted: dict[int, int] = {}
    for variant_id, quantity in lines:
        if variant_id in tracked:
            wanted[variant_id] = wanted.get(variant_id, 0) + quantity
    return wanted


def _move_stock(held: dict[int, int], wanted: dict[int, int]) -> None:
    """Take or give back the difference between what is held and what is wanted, variant by
    variant in id order (so two checkouts never deadlock); ``OutOfStock`` names every variant
    short of free stock (the caller rolls back)."""
    missing = []
    for variant_id in sorted(held.keys() | wanted.keys()):
        change = wanted.get(variant_id, 0) - held.get(variant_id, 0)
        if change > 0 and not _take(variant_id, change):
            missing.append(variant_id)
        elif change < 0:
            _give_back(variant_id, -change)
    if missing:
        raise OutOfStock(missing)


def _by_variant(rows: Iterable[Any]) -> dict[int, int]:
    held: dict[int, int] = {}
    for row in rows:
        held[row.variant_id] = held.get(row.variant_id, 0) + row.quantity
    return held


def hold_for_cart(
    cart_id: int,
    lines: Iterable[tuple[int, int]],
    *,
    tracked: set[int],
    now: datetime | None = None,
    has_holds: bool = True,
) -> datetime:
    """Make the cart's holds exactly ``lines`` (variant id, quantity), all or none.

    Only ``tracked`` variants are held (others have no stock). Holds that already match are
    only extended; otherwise just the difference is taken or given back. Raises
    ``OutOfStock`` naming every variant that could not be held; the caller's transaction is
    then rolled back. ``has_holds=False`` (the caller knows the cart holds nothing) skips
    reading them. Returns when the holds expire. Does not commit.
    """
    now = now or utcnow()
    expires = now + timedelta(minutes=hold_minutes())
    wanted = _wanted(lines, tracked)
    rows = db.session.execute(_CART_HOLDS, {"cart": cart_id}).all() if has_holds else []
    held = _by_variant(rows)
    if held == wanted:
        if rows:
            db.session.execute(_EXTEND_CART_HOLDS, {"cart": cart_id, "until": expires})
        return expires
    _move_stock(held, wanted)
    if rows:
        db.session.execute(_DELETE_HOLDS, {"ids": [row.id for row in rows]})
    _insert_holds(wanted, cart_id=cart_id, order_id=None, expires=expires, now=now)
    return expires


def _insert_holds(
    wanted: dict[int, int],
    *,
    cart_id: int | None,
    order_id: int | None,
    expires: datetime,
    now: datetime,
) -> None:
    if wanted:
        db.session.execute(
            _INSERT_HOLD,
            [
                {
                    "variant_id": variant_id,
                    "cart_id": cart_id,
                    "order_id": order_id,
                    "quantity": quantity,
                    "expires_at": expires,
                    "created_at": now,
                }
                for variant_id, quantity in sorted(wanted.items())
            ],
        )


def claim_cart_holds(
    cart_id: int,
    order_id: int,
    lines: Iterable[tuple[int, int]],
    *,
    tracked: set[int],
    until: datetime,
    now: datetime | None = None,
) -> None:
    """The order takes over its cart's holds (until ``until``), and they become exactly its
    ``lines``: one UPDATE when the checkout's holds are all still there, which is the rule.

    Holds that lapsed (the expiry job gave them back) or no longer match the cart are made
    up from free stock, or given back; ``OutOfStock`` if some cannot be (the caller rolls
    back, order included). Does not commit.
    """
    rows = db.session.execute(
        _CLAIM_CART_HOLDS, {"cart": cart_id, "order": order_id, "until": until}
    ).all()
    held, wanted = _by_variant(rows), _wanted(lines, tracked)
    if held == wanted:
        return
    _move_stock(held, wanted)
    if rows:
        db.session.execute(_DELETE_HOLDS, {"ids": [row.id for row in rows]})
    _insert_holds(wanted, cart_id=cart_id, order_id=order_id, expires=until, now=now or utcnow())


def _release(*where: Any, skip_locked: bool = False, limit: int | None = None) -> int:
    """Give back the holds matching ``where``, locked in variant order (no deadlocks)."""
    query = (
        select(_holds.c.id, _holds.c.variant_id, _holds.c.quantity)
        .where(*where)
        .order_by(_holds.c.variant_id, _holds.c.id)
        .with_for_update(skip_locked=skip_locked)
    )
    if limit:
        query = query.limit(limit)
    rows = db.session.execute(query).all()
    return _give_back_rows(rows)


def _give_back_rows(rows: list[Any]) -> int:
    for variant_id, quantity in sorted(_by_variant(rows).items()):
        _give_back(variant_id, quantity)
    if rows:
        db.session.execute(_DELETE_HOLDS, {"ids": [row.id for row in rows]})
    return len(rows)


def release_cart_holds(cart_id: int, *, commit: bool = True) -> int:
    """Give back every hold of a cart (its content changed, or checkout was abandoned)."""
    released = _give_back_rows(db.session.execute(_CART_HOLDS, {"cart": cart_id}).all())
    if commit:
        db.session.commit()
    return released


def attach_holds_to_order(cart_id: int, order_id: int, *, until: datetime) -> int:
    """The cart's holds now belong to its unpaid order (and last until ``until``)."""
    result = db.session.execute(
        update(InventoryReservation)
        .where(InventoryReservation.cart_id == cart_id, InventoryReservation.order_id.is_(None))
        .values(order_id=order_id, expires_at=until)
    )
    return result.rowcount


def extend_holds(*, cart_id: int | None = None, order_id: int | None = None) -> None:
    """Activity keeps holds alive for another hold period. Does not commit."""
    query = update(InventoryReservation).values(
        expires_at=utcnow() + timedelta(minutes=hold_minutes())
    )
    if order_id is not None:
        query = query.where(InventoryReservation.order_id == order_id)
    elif cart_id is not None:
        query = query.where(InventoryReservation.cart_id == cart_id)
    else:
        raise ValueError("extend_holds needs a cart or an order")
    db.session.execute(query)


def release_order_holds(order_id: int) -> int:
    """Give back an unpaid order's holds (cancellation). Does not commit."""
    return _release(InventoryReservation.order_id == order_id)


def sell_order_holds(order_id: int, lines: Iterable[tuple[int, int]]) -> list[int]:
    """Payment: turn the order's holds into sale movements (stock leaves the shop).

    Lines without a hold (it expired) are sold from free stock if there is any. Returns the
    variant ids that could not be covered (oversold: the caller decides what to do). Does not
    commit.
    """
    holds = {
        h.variant_id: h
        for h in db.session.execute(
            db.select(InventoryReservation)
            .where(InventoryReservation.order_id == order_id)
            .order_by(InventoryReservation.variant_id)
            .with_for_update()
        ).scalars()
    }
    short: list[int] = []
    for variant_id, quantity in sorted(lines):
        hold = holds.pop(variant_id, None)
        held = hold.quantity if hold else 0
        if held:
            db.session.delete(hold)
        extra = quantity - held
        if extra > 0 and not _take(variant_id, extra):
            short.append(variant_id)
            quantity = held
        if quantity:
            db.session.execute(
                update(InventoryItem)
                .where(InventoryItem.variant_id == variant_id)
                .values(
                    on_hand=InventoryItem.on_hand - quantity,
                    reserved=InventoryItem.reserved - quantity,
                )
            )
            db.session.add(
                InventoryMovement(
                    variant_id=variant_id,
                    kind=MovementKind.SALE,
                    quantity=-quantity,
                    reason="order paid",
                    order_id=order_id,
                )
            )
    for hold in holds.values():  # held but no longer ordered
        _give_back(hold.variant_id, hold.quantity)
        db.session.delete(hold)
    return short


def restock(
    variant_id: int, quantity: int, *, reason: str, order_id: int | None, actor_id: int | None
) -> None:
    """A return: units come back into stock. Does not commit."""
    if quantity <= 0:
        raise InventoryError("a return adds a positive quantity")
    result = db.session.execute(
        update(InventoryItem)
        .where(InventoryItem.variant_id == variant_id)
        .values(on_hand=InventoryItem.on_hand + quantity)
    )
    if result.rowcount == 0:
        db.session.add(InventoryItem(variant_id=variant_id, on_hand=quantity, reserved=0))
    db.session.add(
        InventoryMovement(
            variant_id=variant_id,
            kind=MovementKind.RETURN,
            quantity=quantity,
            reason=reason,
            order_id=order_id,
            actor_id=actor_id,
        )
    )


def release_expired(now: datetime | None = None, batch: int = 500) -> int:
    """The periodic job: give back holds past their time, skipping rows another worker has."""
    released = _release(
        InventoryReservation.expires_at < (now or utcnow()), skip_locked=True, limit=batch
    )
    db.session.commit()
    if released:
        page_cache.catalogue_changed()
    return released
