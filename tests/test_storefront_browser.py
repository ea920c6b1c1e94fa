"""Shopper journeys in Chromium: browse, filter, sort, paginate, variants, language (JS on, off)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests import catalogue_factory

pytestmark = pytest.mark.browser


@pytest.fixture
def shop(app, live):
    with app.app_context():
        catalogue_factory.build(30)
    return live


def _cards(page: Page):
    return page.locator("#results .card-title")


def test_browse_filter_sort_paginate_with_javascript(shop, page: Page):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(shop.url + "/fr/categories/mobilier")
    expect(page.locator("#results-count")).to_have_text("30 produits")
    page.evaluate("window.__noReload = true")

    page.get_by_label("Bois massif").check()
    expect(page.locator("#results-count")).to_have_text("15 produits")
    expect(page).to_have_url(re.compile(r"tag=bois-massif"))

    page.get_by_label("Trier par").select_option("price_asc")
    expect(_cards(page).first).to_have_text("Chaise en chêne n°\u00a00")
    expect(page).to_have_url(re.compile(r"sort=price_asc"))

    page.get_by_label("Bois massif").uncheck()
    expect(page.locator("#results-count")).to_have_text("30 produits")
    page.locator(".pagination").get_by_role("link", name="2").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(_cards(page)).to_have_count(6)
    assert page.evaluate("window.__noReload") is True  # only the results were swapped

    page.go_back()
    expect(page).not_to_have_url(re.compile(r"page=2"))
    expect(_cards(page)).to_have_count(24)
    assert errors == []


def test_browse_filter_sort_paginate_without_javascript(shop, browser: Browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(shop.url + "/fr/categories/mobilier")
        page.get_by_label("Bois massif").check()
        page.get_by_label("Trier par").select_option("price_asc")
        page.get_by_role("button", name="Appliquer").click()
        expect(page).to_have_url(re.compile(r"tag=bois-massif"))
        expect(page.locator("#results-count")).to_have_text("15 produits")
        expect(_cards(page).first).to_have_text("Chaise en chêne n°\u00a00")
        page.get_by_label("Bois massif").uncheck()
        page.get_by_role("button", name="Appliquer").click()
        page.locator(".pagination").get_by_role("link", name="2").click()
        expect(page).to_have_url(re.compile(r"page=2"))
        expect(_cards(page)).to_have_count(6)
        # Filters survive pagination.
        expect(page.get_by_label("Trier par")).to_have_value("price_asc")
    finally:
        context.close()


def test_search_as_you_type(shop, page: Page):
    page.goto(shop.url + "/fr/recherche")
    page.get_by_role("searchbox", name="Rechercher", exact=True).fill("chene 2")
    expect(page).to_have_url(re.compile(r"q=chene"))
    expect(_cards(page).first).to_contain_text("Chaise en chêne")


def test_variant_switch_updates_price_and_sku_without_reload(shop, page: Page):
    page.goto(shop.url + "/fr/produits/chaise-en-chene-n-0")
    buybox = page.locator("#buybox")
    expect(buybox.locator(".price-now")).to_have_text("10,00\u00a0€")
    expect(buybox.locator(".sku span")).to_have_text("SKU-0-0")
    page.evaluate("window.__noReload = true")
    page.get_by_label(re.compile("^Grand")).check()
    expect(buybox.locator(".price-now")).to_have_text("12,00\u00a0€")
    expect(buybox.locator(".sku span")).to_have_text("SKU-0-1")
    expect(page).to_have_url(re.compile(r"variant=\d+"))
    assert page.evaluate("window.__noReload") is True


def test_variant_switch_without_javascript(shop, browser: Browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(shop.url + "/fr/produits/chaise-en-chene-n-0")
        page.get_by_label(re.compile("^Grand")).check()
        page.get_by_role("button", name="Voir cette option").click()
        expect(page.locator("#buybox .sku span")).to_have_text("SKU-0-1")
    finally:
        context.close()


def test_language_switch_lands_on_the_english_twin(shop, page: Page):
    page.goto(shop.url + "/fr/produits/table-en-chene-n-1")
    page.get_by_role("navigation", name="Langue").get_by_role("link", name="English").click()
    expect(page).to_have_url(shop.url + "/en/products/oak-table-no-1")
    expect(page.get_by_role("heading", level=1)).to_have_text("Oak table no. 1")
    expect(page.locator("html")).to_have_attribute("lang", "en")
