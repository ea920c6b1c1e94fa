"""Orders for back-office tests, built through the real services: a small catalogue with
stock, checkouts paid by bank transfer, card payments through localstripe."""

from __future__ import annotations

import pytest

from shop.checkout import services as checkout
from shop.extensions import db
from shop.inventory.services import receive
from shop.payments import stripe_gateway
from shop.platform.services import set_setting
from tests.test_orders import _cart, _details, _variant_of
from tests.test_payments import CARD_OK, attempt, card_method, place_pending_order, stripe_client


@pytest.fixture
def shop(app):
    from shop.checkout.defaults import load_defaults
    from tests import catalogue_factory

    with app.app_context():
        ids = catalogue_factory.build(4)
        load_defaults()
        db.session.commit()
        receive(_variant_of(ids["products"][3]), 90, reason="enough for every test")
        set_setting("bank_iban", "FR76 3000 6000 0112 3456 7890 189")
    return ids


def bank_order(
    app, shop, email: str = "camille@example.com", quantity: int = 2, product: int = 3
) -> int:
    """A checkout paid by bank transfer: awaiting payment, its stock held, order_placed."""
    with app.app_context():
        cart_id = _cart(_variant_of(shop["products"][product]), quantity)
        checkout.start_checkout(cart_id)
        return checkout.place_order(cart_id, _details(email)).id


def paid_card_order(app, test_env) -> tuple[int, str]:
    """An order paid by card through localstripe; returns its id and PaymentIntent id."""
    with app.app_context():
        order_id = place_pending_order()
        stripe_api = stripe_client(test_env)
        outcome = stripe_gateway.pay_by_card(order_id, card_method(stripe_api, CARD_OK), attempt())
        assert outcome.status == "succeeded"
        return order_id, outcome.intent_id
