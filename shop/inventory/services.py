"""Stock changes, each recorded as a movement. Reservations arrive with the checkout issue."""

from __future__ import annotations

from shop.extensions import db
from shop.inventory.models import InventoryItem, InventoryMovement, MovementKind


class InventoryError(Exception):
    pass


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
        from shop.catalogue import cache

        cache.catalogue_changed()
    return item
