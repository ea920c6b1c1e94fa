"""The whole journey in Chromium: a guest buys in French with a 3-D Secure card."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from shop.checkout.defaults import load_defaults
from shop.extensions import db
from shop.inventory.models import InventoryItem, InventoryMovement
from shop.orders.models import Order, OrderStatus
from tests import catalogue_factory
from tests.test_payments import CARD_3DS
from tests.test_payments_browser import enter_card, pay_button, watch_console

pytestmark = pytest.mark.browser


@pytest.fixture
def shop(app, live):
    with app.app_context():
        catalogue_factory.build(6)
        load_defaults()
        db.session.commit()
    return live


def test_guest_purchase_in_french_with_a_3ds_card(app, shop, page: Page):
    problems = watch_console(page)
    page.goto(shop.url + "/fr/produits/table-en-chene-n-1")
    page.get_by_label("Quantité").fill("2")
    page.get_by_role("button", name="Ajouter au panier").click()
    expect(page.locator("#cart-badge")).to_contain_text("2")

    page.locator("#cart-badge").click()
    page.get_by_role("link", name="Passer la commande").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vos coordonnées")

    page.get_by_label("Adresse e-mail").fill("camille@example.com")
    address = page.locator("#shipping-address")
    address.get_by_label("Prénom").fill("Camille")
    address.get_by_label("Nom", exact=True).fill("Durand")
    address.get_by_label("Adresse", exact=True).fill("12 rue des Lilas")
    address.get_by_label("Code postal").fill("75011")
    address.get_by_label("Ville").fill("Paris")
    expect(page.get_by_label(re.compile("^Colissimo domicile"))).to_be_checked()
    page.get_by_label(re.compile("^Carte bancaire")).check()
    page.get_by_role("button", name="Continuer vers le récapitulatif").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Vérifiez votre commande")
    expect(page.locator(".grand-total td")).to_have_text("90,00\u00a0€")
    page.get_by_role("button", name="Confirmer et payer par carte").click()

    expect(pay_button(page)).to_contain_text("90,00\u00a0€")
    enter_card(page, CARD_3DS)
    pay_button(page).click()
    page.get_by_role("button", name="Complete authentication").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Merci\u202f! Votre commande est payée."
    )
    with app.app_context():
        order = db.session.execute(db.select(Order)).scalar_one()
        assert order.status == OrderStatus.PAID
        assert order.total == 9000
        sold = db.session.execute(
            db.select(db.func.sum(InventoryMovement.quantity)).where(
                InventoryMovement.kind == "sale"
            )
        ).scalar()
        assert sold == -2
        reserved = db.session.execute(db.select(db.func.sum(InventoryItem.reserved))).scalar()
        assert reserved == 0
    assert problems == []
