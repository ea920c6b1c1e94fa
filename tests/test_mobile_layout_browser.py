"""The storefront laid out for a 390 × 844 phone (issue 13's targets), and the disclosures it
uses (menu, filters) working without JavaScript, in Chromium."""

from __future__ import annotations

import io

import pytest
from playwright.sync_api import Browser, Page, expect

from shop.catalogue import images
from tests import catalogue_factory
from tests.test_images import picture

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
CATEGORY = "/fr/categories/mobilier"
PRODUCT = "/fr/produits/chaise-en-chene-n-0"  # two sizes


@pytest.fixture
def shop(app, live):
    """The factory's catalogue, square pictures on the first products (three on product 0)."""
    with app.app_context():
        ids = catalogue_factory.build(12)
        for index, product_id in enumerate(ids["products"]):
            for _ in range(3 if index == 0 else 1):
                image = images.add_product_image(
                    product_id, io.BytesIO(picture("JPEG", (800, 800))), alt_fr="", alt_en=""
                )
                images.render_renditions(image.id)
    return live


def _top(page: Page, selector: str) -> float:
    return page.locator(selector).first.evaluate("e => e.getBoundingClientRect().top")


def _no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


def test_phone_targets(shop, browser: Browser, record_property):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    try:
        page.goto(shop.url + "/fr/")
        header = page.locator(".site-header").evaluate("e => e.offsetHeight")
        home = page.evaluate("document.documentElement.scrollHeight")
        _no_sideways_scroll(page)

        page.goto(shop.url + CATEGORY)
        first_product = _top(page, "#results .card")
        columns = page.locator("#results .card").evaluate_all(
            "cards => new Set(cards.slice(0, 4).map(c => c.getBoundingClientRect().left)).size"
        )
        expect(page.locator("#filters")).not_to_be_visible()  # in the closed drawer
        _no_sideways_scroll(page)

        page.goto(shop.url + PRODUCT)
        button = "#add-to-cart button[type=submit]"
        add_to_cart = _top(page, button)  # where the shopper sees it: the sticky bar
        in_flow = page.locator("#add-to-cart").evaluate(
            "e => { e.style.position = 'static'; const top = e.querySelector('button')"
            ".getBoundingClientRect().top; e.style.position = ''; return top; }"
        )
        title = _top(page, "#product-title")
        _no_sideways_scroll(page)
    finally:
        context.close()
    figures = {
        "header_height": header,
        "home_height": home,
        "category_first_product_top": first_product,
        "category_columns": columns,
        "product_title_top": title,
        "product_add_to_cart_top_sticky": add_to_cart,
        "product_add_to_cart_top_in_flow": in_flow,
    }
    for name, value in figures.items():
        record_property(name, value)
    print(figures)
    assert header <= 80, figures
    assert first_product < PHONE["height"], figures
    assert columns == 2, figures
    assert in_flow < 1.5 * PHONE["height"], figures
    assert add_to_cart < PHONE["height"], figures


def test_menu_and_filters_open_without_javascript_on_a_phone(shop, browser: Browser):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(shop.url + CATEGORY)
        categories = page.get_by_role("navigation", name="Catégories", exact=True)
        expect(categories).not_to_be_visible()
        page.locator(".menu-drawer > summary").click()
        expect(categories.get_by_role("link", name="Cuisine")).to_be_visible()
        expect(page.get_by_role("link", name="Se connecter")).to_be_visible()
        expect(page.locator(".header-search")).not_to_be_visible()
        expect(page.get_by_role("link", name="Rechercher dans la boutique")).to_be_visible()
        page.locator(".menu-drawer > summary").click()  # closes it again
        expect(categories).not_to_be_visible()

        page.get_by_text("Filtrer et trier").click()
        page.get_by_label("Bois massif").check()
        page.get_by_role("button", name="Appliquer").click()
        expect(page.locator("#results-count")).to_have_text("6 produits")
    finally:
        context.close()


def test_laptop_shows_the_menu_and_the_filters_without_a_click(shop, browser: Browser):
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    try:
        page.goto(shop.url + CATEGORY)
        expect(page.get_by_role("navigation", name="Catégories", exact=True)).to_be_visible()
        expect(page.locator(".menu-drawer > summary")).not_to_be_visible()
        expect(page.get_by_role("searchbox", name="Rechercher dans la boutique")).to_be_visible()
        expect(page.locator("#filters")).to_be_visible()
        expect(page.get_by_text("Filtrer et trier")).not_to_be_visible()
        columns = page.locator("#results .card").evaluate_all(
            "cards => new Set(cards.slice(0, 4).map(c => c.getBoundingClientRect().left)).size"
        )
        assert columns in (3, 4)
    finally:
        context.close()


def test_cart_steppers_update_by_themselves(shop, page: Page):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(shop.url + "/fr/produits/table-en-chene-n-3")
    page.get_by_role("button", name="Ajouter au panier").click()
    expect(page.locator("#cart-badge")).to_have_text("Panier 1 article")
    page.goto(shop.url + "/fr/panier")
    page.evaluate("window.__noReload = true")
    quantity = page.get_by_label("Quantité")
    page.get_by_role("button", name="Un de plus – Table en chêne n°\u00a03").click()
    expect(quantity).to_have_value("2")
    expect(page.locator("#cart-subtotal")).to_have_text("26,00\u00a0€")
    page.get_by_role("button", name="Un de moins – Table en chêne n°\u00a03").click()
    expect(quantity).to_have_value("1")
    quantity.fill("4")
    quantity.blur()  # a typed quantity is sent on change, no button needed
    expect(page.locator("#cart-subtotal")).to_have_text("52,00\u00a0€")
    expect(page.locator("#cart-badge")).to_have_text("Panier 4 articles")
    assert page.evaluate("window.__noReload") is True
    assert errors == []


def test_cart_steppers_without_javascript(shop, browser: Browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(shop.url + "/fr/produits/table-en-chene-n-3")
        page.get_by_role("button", name="Ajouter au panier").click()
        expect(page).to_have_url(shop.url + "/fr/panier")
        page.get_by_role("button", name="Un de plus – Table en chêne n°\u00a03").click()
        expect(page.get_by_label("Quantité")).to_have_value("2")
        expect(page.locator("#cart-badge")).to_have_text("Panier 2 articles")
    finally:
        context.close()
