"""The cart in Chromium: add from a product page, change a quantity, remove (JS on, then off)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests import catalogue_factory

pytestmark = pytest.mark.browser

PRODUCT = "/fr/produits/table-en-chene-n-3"  # 13 €, 10 in stock


@pytest.fixture
def shop(app, live):
    with app.app_context():
        catalogue_factory.build(6)
    return live


def test_cart_journey_with_javascript(shop, page: Page):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(shop.url + PRODUCT)
    badge = page.locator("#cart-badge")
    expect(badge).to_have_text("Panier")
    page.evaluate("window.__noReload = true")

    page.get_by_label("Quantité").fill("2")
    page.get_by_role("button", name="Ajouter au panier").click()
    expect(page.locator("#add-to-cart-message")).to_contain_text("Ajouté à votre panier.")
    expect(badge).to_have_text("Panier 2 articles")
    page.get_by_label("Quantité").fill("0")
    page.get_by_role("button", name="Ajouter au panier").click()
    expect(page.locator("#add-to-cart-message")).to_have_text(
        "Veuillez choisir une quantité d’au moins 1."
    )
    expect(badge).to_have_text("Panier 2 articles")
    assert page.evaluate("window.__noReload") is True

    badge.click()
    expect(page).to_have_url(shop.url + "/fr/panier")
    page.evaluate("window.__noReload = true")
    page.get_by_label("Quantité").fill("3")
    page.get_by_role("button", name="Mettre à jour").click()
    expect(page.locator("#cart-subtotal")).to_have_text("39,00\u00a0€")
    expect(badge).to_have_text("Panier 3 articles")

    page.get_by_label("Quantité").fill("11")
    page.get_by_role("button", name="Mettre à jour").click()
    expect(page.locator(".cart-line .field-error")).to_have_text(
        "Vous pouvez avoir au plus 10 exemplaires de cet article dans votre panier."
    )
    expect(page.get_by_label("Quantité")).to_have_value("11")
    expect(page.locator("#cart-subtotal")).to_have_text("39,00\u00a0€")

    page.get_by_role("button", name=re.compile("^Retirer")).click()
    expect(page.locator("#cart")).to_contain_text("Votre panier est vide.")
    expect(badge).to_have_text("Panier")
    assert page.evaluate("window.__noReload") is True
    assert errors == []


def test_cart_journey_without_javascript(shop, browser: Browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(shop.url + PRODUCT)
        page.get_by_label("Quantité").fill("2")
        page.get_by_role("button", name="Ajouter au panier").click()
        expect(page).to_have_url(shop.url + "/fr/panier")
        expect(page.locator(".flash")).to_have_text("Ajouté à votre panier.")
        expect(page.locator("#cart-badge")).to_have_text("Panier 2 articles")

        page.get_by_label("Quantité").fill("0")
        page.get_by_role("button", name="Mettre à jour").click()
        expect(page.locator(".cart-line .field-error")).to_have_text(
            "Veuillez choisir une quantité d’au moins 1."
        )
        expect(page.get_by_label("Quantité")).to_have_value("0")

        page.get_by_label("Quantité").fill("3")
        page.get_by_role("button", name="Mettre à jour").click()
        expect(page).to_have_url(shop.url + "/fr/panier")
        expect(page.locator("#cart-subtotal")).to_have_text("39,00\u00a0€")
        expect(page.locator("#cart-badge")).to_have_text("Panier 3 articles")

        page.get_by_role("button", name=re.compile("^Retirer")).click()
        expect(page.locator("#cart")).to_contain_text("Votre panier est vide.")
        expect(page.locator("#cart-badge")).to_have_text("Panier")

        # The badge follows the visitor onto cached catalogue pages.
        page.goto(shop.url + PRODUCT)
        page.get_by_role("button", name="Ajouter au panier").click()
        page.goto(shop.url + PRODUCT)
        expect(page.locator("#cart-badge")).to_have_text("Panier 1 article")
    finally:
        context.close()
