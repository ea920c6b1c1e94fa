"""Orders at known dates and amounts, through the real checkout (for the back-office figures).

``shop_with_stock()`` builds the small test catalogue; product i's variant costs 10 € + i €
(tax included), and store pickup ships for free, so an order's total is exactly the sum of
its lines. ``place(...)`` goes through ``start_checkout``/``place_order``/``mark_paid``, then
moves the order's ``placed_at``/``paid_at`` to the moment a test needs.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import update

from shop.cart.models import Cart, CartEvent, CartEventKind, CartItem
from shop.catalogue.models import ProductVariant
from shop.checkout import services as checkout
from shop.checkout.defaults import load_defaults
from shop.checkout.services import CheckoutDetails
from shop.extensions import db
from shop.inventory import services as inventory
from shop.orders import services as orders
from shop.orders.models import Order
from shop.platform.services import update_settings
from tests import catalogue_factory

ADDRESS = {
    "first_name": "Camille",
    "last_name": "Durand",
    "company": "",
    "line1": "12 rue des Lilas",
    "line2": "",
    "postal_code": "75011",
    "city": "Paris",
    "country": "FR",
    "region": "",
    "phone": "+33 6 12 34 56 78",
}
FREE_SHIPPING = "pickup-paris"
BANK = {"bank_holder": "Comptoir SAS", "bank_iban": "FR7630006000011234567890189"}


def offer_bank_transfer() -> None:
    """Bank transfer is offered only once the shop's bank details are saved."""
    update_settings(BANK)


def shop_with_stock() -> dict[int, int]:
    """The catalogue; returns product index -> its first variant id (products 1 to 4 have
    100 more units each)."""
    ids = catalogue_factory.build(6)
    load_defaults()
    db.session.commit()
    variants = {}
    for index, product_id in enumerate(ids["products"]):
        variants[index] = db.session.scalars(
            db.select(ProductVariant.id)
            .where(ProductVariant.product_id == product_id)
            .order_by(ProductVariant.id)
        ).first()
    for index in (1, 2, 3, 4):
        inventory.receive(variants[index], 100, reason="back-office figures")
    return variants


def place(
    items: list[tuple[int, int]],
    *,
    email: str = "camille@example.com",
    customer_id: int | None = None,
    address: dict[str, Any] | None = None,
    paid: bool = True,
    placed_at: datetime | None = None,
    paid_at: datetime | None = None,
) -> int:
    """An order of ``items`` ((variant id, quantity), ...) placed with free pickup."""
    cart = Cart(token=secrets.token_urlsafe(16), locale="fr", customer_id=customer_id)
    cart.items = [CartItem(variant_id=v, quantity=q, unit_price=0) for v, q in items]
    db.session.add(cart)
    db.session.commit()
    checkout.start_checkout(cart.id)
    order = checkout.place_order(
        cart.id,
        CheckoutDetails(
            email=email,
            shipping_address=address or ADDRESS,
            billing_address=address or ADDRESS,
            shipping_method=FREE_SHIPPING,
            payment_method="bank_transfer",
            locale="fr",
            customer_id=customer_id,
        ),
    )
    order_id = order.id
    if paid:
        assert orders.mark_paid(order_id, provider="bank_transfer") is True
    moved: dict[str, datetime] = {}
    if placed_at is not None:
        moved["placed_at"] = moved["created_at"] = placed_at
    if paid_at is not None or (paid and placed_at is not None):
        moved["paid_at"] = paid_at or placed_at  # type: ignore[assignment]
    if moved:
        db.session.execute(update(Order).where(Order.id == order_id).values(**moved))
        db.session.commit()
    return order_id


def cart_at(created_at: datetime, variant_id: int | None = None, *, status: str = "active") -> int:
    """A cart created at ``created_at``, holding one unit of ``variant_id`` (or empty)."""
    cart = Cart(token=secrets.token_urlsafe(16), locale="fr", created_at=created_at, status=status)
    if variant_id is not None:
        cart.items = [CartItem(variant_id=variant_id, quantity=1, unit_price=1000)]
    db.session.add(cart)
    db.session.flush()
    if variant_id is not None:
        db.session.add(
            CartEvent(
                cart_id=cart.id,
                kind=CartEventKind.ADDED,
                variant_id=variant_id,
                quantity=1,
                at=created_at,
            )
        )
    db.session.commit()
    return cart.id
