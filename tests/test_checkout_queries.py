"""What placing an order costs in statements, whatever its size, and the cached checkout rules.

Counts, not timings (issue 4 benchmark): start_checkout and place_order run a fixed number of
statements plus one conditional UPDATE per tracked variant to hold, and tax rates and
shipping methods are read once per process until staff change them.
"""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from shop import create_app
from shop.cart.models import Cart, CartItem
from shop.catalogue.models import ProductVariant
from shop.checkout import services as checkout
from shop.checkout import shipping, taxes
from shop.checkout.defaults import load_defaults
from shop.checkout.models import ShippingMethod, TaxRate
from shop.checkout.services import CheckoutDetails
from shop.extensions import db
from shop.inventory.models import InventoryReservation
from shop.platform import services as settings
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
    "phone": "",
}
DETAILS = CheckoutDetails(
    email="camille@example.com",
    shipping_address=ADDRESS,
    billing_address=ADDRESS,
    shipping_method="colissimo",
    payment_method="bank_transfer",
    locale="fr",
)


@pytest.fixture
def skus(app) -> dict[str, int]:
    with app.app_context():
        catalogue_factory.build(6)
        load_defaults()
        db.session.commit()
        return dict(db.session.execute(select(ProductVariant.sku, ProductVariant.id)).all())


@pytest.fixture
def other(app, test_env):
    """Another process of the same shop (its own app, engine and cache), same Redis."""
    other = create_app(dict(test_env))
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def _cart(*variant_ids: int) -> int:
    cart = Cart(token=secrets.token_urlsafe(16), locale="fr")
    cart.items = [CartItem(variant_id=v, quantity=1, unit_price=0) for v in variant_ids]
    db.session.add(cart)
    db.session.commit()
    return cart.id


def _kinds(statements: list[str]) -> list[str]:
    return [" ".join(statement.split()[:3]) for statement in statements]


@pytest.mark.parametrize("lines", [["SKU-1"], ["SKU-1", "SKU-2", "SKU-3"]])
def test_checkout_and_order_run_a_fixed_number_of_statements(app, skus, queries, lines):
    with app.app_context():
        checkout.start_checkout(_cart(skus["SKU-4"]))  # rules read once for the process
        checkout.place_order(_cart(skus["SKU-4"]), DETAILS)
        cart_id = _cart(*(skus[sku] for sku in lines))
        with queries() as started:
            checkout.start_checkout(cart_id)
        with queries() as placed:
            order = checkout.place_order(cart_id, DETAILS)
        # the cart locked and touched, its lines (with its holds count), one conditional
        # UPDATE per variant, the holds inserted, the event
        assert len(started) == 4 + len(lines)
        # the lines with the cart locked, the order number, the order, its lines, its tax
        # lines, the holds taken over, the payment, the cart, the event
        assert len(placed) == 9, _kinds(placed)
        assert order.number.startswith("CMD-") and len(order.lines) == len(lines)
        holds = db.session.execute(select(InventoryReservation.order_id)).scalars().all()
        assert holds.count(order.id) == len(lines)


def test_lapsed_holds_are_taken_again_when_placing(app, skus):
    with app.app_context():
        cart_id = _cart(skus["SKU-1"], skus["SKU-2"])
        checkout.start_checkout(cart_id)
        db.session.execute(db.delete(InventoryReservation))  # the expiry job gave them back
        db.session.commit()
        order = checkout.place_order(cart_id, DETAILS)
        held = db.session.execute(
            select(InventoryReservation.variant_id, InventoryReservation.quantity).where(
                InventoryReservation.order_id == order.id
            )
        ).all()
        assert sorted(held) == sorted([(skus["SKU-1"], 1), (skus["SKU-2"], 1)])


def _french_vat() -> int:
    return taxes.compute("FR", "", [(1200, "standard")], prices_include_tax=True).tax_total


def test_a_changed_rate_is_used_at_once_by_every_process(app, skus, other, queries):
    with app.app_context():
        assert _french_vat() == 200
        with queries() as statements:
            assert _french_vat() == 200
        assert statements == []  # kept by this process
    with other.app_context():
        assert _french_vat() == 200
    with app.app_context():
        rate = db.session.execute(
            select(TaxRate).where(
                TaxRate.country == "FR", TaxRate.region == "", TaxRate.tax_class == "standard"
            )
        ).scalar_one()
        rate.rate_ppm = 100_000
        db.session.flush()
        assert _french_vat() == 109  # its own change, before the commit
        db.session.commit()
        assert _french_vat() == 109
    with other.app_context():
        assert _french_vat() == 109


def _includes_tax() -> bool:
    return checkout.price([], country="FR", region="", shipping_code="colissimo").prices_include_tax


def test_a_changed_store_setting_is_seen_at_once(app, skus, other):
    with other.app_context():
        assert _includes_tax() is True
    with app.app_context():
        settings.set_setting(settings.PRICES_INCLUDE_TAX, "false")  # an upsert statement
    with other.app_context():
        assert _includes_tax() is False


def test_a_bulk_update_of_shipping_methods_is_seen_too(app, skus, other):
    with other.app_context():
        assert shipping.quote("colissimo", "FR", 1000).price == 690
    with app.app_context():
        db.session.execute(
            db.update(ShippingMethod).where(ShippingMethod.code == "colissimo").values(price=790)
        )
        db.session.commit()
    with other.app_context():
        assert shipping.quote("colissimo", "FR", 1000).price == 790
