"""A product sold in one language only (French first: a French shop may not translate
everything, and an import may bring French rows only). Its page answers in French with the
hreflang set it really has, the language switcher offers English through the English home,
the English address is a 404, and it can be bought and invoiced from either language."""

from __future__ import annotations

import re

import pytest

from shop.catalogue import services
from shop.catalogue.models import ProductStatus
from shop.catalogue.services import Text, VariantInput
from shop.checkout import services as checkout
from shop.checkout.defaults import load_defaults
from shop.clock import utcnow
from shop.extensions import db
from shop.inventory.services import receive
from shop.orders.models import Order
from tests import catalogue_factory
from tests.test_cart import add, lines
from tests.test_orders import _cart, _details

BASE = "http://127.0.0.1:5000"


@pytest.fixture
def bench(app) -> int:
    with app.app_context():
        ids = catalogue_factory.build(3)
        load_defaults()
        product = catalogue_factory.product(
            {"fr": Text(title="Banc en frêne", description="<p>Un banc solide.</p>")},
            variants=[VariantInput(sku="BANC", price=5000)],
            category_id=ids["chairs"],
            featured=True,
        )
        # Published as an import brings it: the back office publishes a product only with its
        # English title (shop.catalogue.services.publishing_problems).
        product.status, product.published_at = ProductStatus.ACTIVE, utcnow()
        services.commit_changes()
        variant_id = product.variants[0].id
        receive(variant_id, 5, reason="initial stock")
        db.session.commit()
        return variant_id


def _hreflangs(html: str) -> dict[str, str]:
    return dict(re.findall(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)"', html))


def test_its_page_answers_in_french_with_the_alternates_it_has(client, bench):
    response = client.get("/fr/produits/banc-en-frene")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Banc en frêne" in html
    assert _hreflangs(html) == {
        "fr": f"{BASE}/fr/produits/banc-en-frene",
        "x-default": f"{BASE}/fr/produits/banc-en-frene",
    }
    switcher = html.split('class="language-switcher"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/en/" hreflang="en"' in switcher  # English: its home, not a dead link


def test_its_english_address_is_a_translated_404(client, bench):
    response = client.get("/en/products/banc-en-frene")

    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_it_is_listed_in_french_only_and_kept_out_of_the_sitemaps(client, bench):
    french = client.get("/fr/categories/chaises").get_data(as_text=True)
    english = client.get("/en/categories/chairs").get_data(as_text=True)
    assert "/fr/produits/banc-en-frene" in french
    assert "banc" not in english.lower()
    index = client.get("/sitemap.xml").get_data(as_text=True)
    product_maps = re.findall(rf"{BASE}(/sitemaps/products-\d+\.xml)", index)
    assert product_maps
    for path in product_maps:
        assert "banc-en-frene" not in client.get(path).get_data(as_text=True)


def test_it_can_be_added_to_the_cart_from_either_language(app, client, bench):
    assert add(client, bench, 2, lang="en").status_code == 303
    assert lines(app) == {bench: 2}

    english_cart = client.get("/en/cart")
    assert english_cart.status_code == 200
    html = english_cart.get_data(as_text=True)
    link = '<a href="/fr/produits/banc-en-frene" lang="fr" hreflang="fr">Banc en frêne</a>'
    assert link in html  # its only title, linking to its page in the language it has
    assert "Banc en frêne" in client.get("/fr/panier").get_data(as_text=True)


def test_an_english_order_for_it_snapshots_the_french_title(app, bench):
    with app.app_context():
        cart_id = _cart(bench, 1)
        checkout.start_checkout(cart_id)
        details = _details("jo@example.com")
        details.locale = "en"
        order = checkout.place_order(cart_id, details)
        order = db.session.get(Order, order.id)
        [line] = order.lines
        assert line.sku == "BANC"
        assert (line.title_fr, line.title_en) == ("Banc en frêne", "Banc en frêne")
