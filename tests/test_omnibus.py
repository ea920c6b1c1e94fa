"""Announcing a price reduction the EU Omnibus way (art. L112-1-1 Code de la consommation):
the struck price is the lowest price of the 30 days before the reduction started.

The rules as a table (``shop.catalogue.pricing``, pure), then the price history as the
catalogue stores it on both databases, then the pages that show it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from shop import create_app
from shop.catalogue import pricing, services
from shop.catalogue.models import PriceHistory, ProductStatus
from shop.catalogue.pricing import Reduction
from shop.catalogue.services import Text, VariantInput
from shop.extensions import db
from tests import catalogue_factory
from tests.conftest import recorded_statements

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


# -- the rule ----------------------------------------------------------------------------

# (history as (days ago, price), oldest first: the last one is the current price, in force
# since then; compare-at price; what is announced)
RULES = {
    "no compare-at price: nothing announced, whatever the history": (
        [(60, 6000), (5, 4500)],
        None,
        None,
    ),
    "compare-at with a lower price in the history: struck from that one, not the compare-at": (
        # the demo's cups: 56,90 €, a short promotion at 50,90 €, back, then 45,90 €
        [(90, 5690), (25, 5090), (18, 5690), (5, 4590)],
        5690,
        Reduction(reference=5090, percent=9),  # 9.8 % off, never rounded up
    ),
    "history higher than the compare-at: struck from the prior price the shop charged": (
        [(60, 7000), (5, 5000)],
        6000,
        Reduction(reference=7000, percent=28),
    ),
    "reduction older than 30 days: still the 30 days before it started, not before today": (
        [(120, 6000), (45, 4500)],
        6000,
        Reduction(reference=6000, percent=25),
    ),
    "price raised before the sale, then lowered above the old price: nothing announced": (
        [(90, 5000), (20, 6000), (1, 5500)],
        6000,
        None,
    ),
    "price raised then lowered below the old price: struck from the old price": (
        [(90, 5000), (20, 6000), (1, 4500)],
        6000,
        Reduction(reference=5000, percent=10),
    ),
    "new product on sale for less than 30 days: the lowest since it went on sale": (
        [(10, 6000), (2, 4800)],
        6000,
        Reduction(reference=6000, percent=20),
    ),
    "new product put on sale at the reduced price: no prior price, nothing announced": (
        [(3, 4800)],
        6000,
        None,
    ),
    "equal prices: back at the 30-day lowest, nothing struck": (
        [(60, 4500), (20, 5000), (5, 4500)],
        5000,
        None,
    ),
    "a price that ended exactly when the window opened does not count": (
        [(90, 4000), (30, 6000), (0, 5000)],
        6000,
        Reduction(reference=6000, percent=16),
    ),
    "a price still in force when the window opened counts": (
        [(31, 4000), (29, 6000), (0, 5000)],
        6000,
        None,
    ),
    "a cut of less than 1 %: struck, with no percentage to show": (
        [(60, 100_000), (1, 99_990)],
        100_000,
        Reduction(reference=100_000, percent=0),
    ),
}


@pytest.mark.parametrize(("history", "compare_at", "expected"), RULES.values(), ids=RULES.keys())
def test_what_a_reduction_announces(history, compare_at, expected):
    rows = [(ago(days), price) for days, price in history]
    since, price = rows[-1]
    assert pricing.announced_reduction(price, compare_at, rows, since) == expected
    # The storefront reads the same prior price, stored with the price when it changed.
    reference = pricing.lowest_price_before(rows, since)
    assert pricing.reduction(price, compare_at, reference) == expected


def test_the_history_may_come_in_any_order_and_naive_from_sqlite():
    rows = [(ago(25).replace(tzinfo=None), 5090), (ago(90), 5690), (ago(18), 5690)]
    assert pricing.lowest_price_before(rows, ago(5)) == 5090
    assert pricing.lowest_price_before(list(reversed(rows)), ago(5).replace(tzinfo=None)) == 5090
    assert pricing.lowest_price_before([], NOW) is None


# -- the stored prior price, on both databases -------------------------------------------


@pytest.fixture
def sqlite_app(tmp_path: Path):
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}",
            "REDIS_URL": "",
            "SMTP_URL": "",
            "SECRET_KEY": "omnibus-test-secret-key-0123456789abcdef",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_COST": "8192",
            "LOG_LEVEL": "WARNING",
        }
    )
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def any_app(request) -> Flask:
    return request.getfixturevalue("app" if request.param == "postgresql" else "sqlite_app")


def test_the_prior_price_is_fixed_from_the_history_when_the_price_changes(any_app):
    now = datetime.now(UTC)
    with any_app.app_context():
        product = catalogue_factory.product(
            {"fr": Text(title="Tasses"), "en": Text(title="Cups")},
            variants=[],
        )
        variant = services.create_variant(
            product.id, VariantInput(sku="CUPS-1", price=5690), at=now - timedelta(days=90)
        )
        for price, days in ((5090, 25), (5690, 18)):
            catalogue_factory.change_price(variant.id, price, at=now - timedelta(days=days))
        variant_id = variant.id
        with recorded_statements(any_app) as statements:
            assert services.lowest_price_before(variant_id, now) == 5090
        assert len(statements) == 1
        changed = catalogue_factory.change_price(variant.id, 4590, compare_at_price=5690, at=now)
        rows = db.session.execute(
            db.select(PriceHistory.started_at, PriceHistory.price).where(
                PriceHistory.variant_id == variant.id
            )
        ).all()
        assert changed.lowest_prior_price == 5090
        assert changed.lowest_prior_price == pricing.lowest_price_before(rows, now)
        assert pricing.reduction(changed.price, 5690, changed.lowest_prior_price) == Reduction(
            reference=5090, percent=9
        )


# -- the pages ---------------------------------------------------------------------------


def _card(html: str, slug: str) -> str:
    """The listing card of the product at ``slug``."""
    start = html.index(f'href="/fr/produits/{slug}"')
    return html[start : html.index("</li>", start)]


def _struck(html: str) -> list[str]:
    return re.findall(r'<del class="price-was">.*?</span>\s*([^<]+?)\s*</del>', html, re.S)


def test_product_page_and_listing_strike_the_prior_price(app, client):
    with app.app_context():
        ids = catalogue_factory.build(6)
        # Raised before the "sale", lowered but not below what it cost 20 days ago.
        inflated = catalogue_factory.product(
            {
                "fr": Text(title="Table gonflée", description="<p>Une table.</p>"),
                "en": Text(title="Inflated table", description="<p>A table.</p>"),
            },
            category_id=ids["tables"],
        )
        long_ago = datetime.now(UTC) - timedelta(days=90)
        variant = services.create_variant(
            inflated.id, VariantInput(sku="INFL-1", price=5000), at=long_ago
        )
        catalogue_factory.change_price(variant.id, 6000, at=datetime.now(UTC) - timedelta(days=20))
        catalogue_factory.change_price(variant.id, 5500, compare_at_price=6000)
        services.set_status(inflated.id, ProductStatus.ACTIVE)

    # Product 1: 60 € for long, 55 € 20 days ago, now 45 € "instead of 60 €".
    page = client.get("/fr/produits/table-en-chene-n-1").get_data(as_text=True)
    assert _struck(page) == ["55,00\u00a0€"]
    assert "60,00" not in page
    assert "-18\u00a0%" in page  # 10 € off 55 €
    assert "Prix le plus bas des 30 jours précédant la réduction\u00a0: 55,00\u00a0€" in page
    english = client.get("/en/products/oak-table-no-1").get_data(as_text=True)
    assert _struck(english) == ["€55.00"] and "-18%" in english

    listing = client.get("/fr/categories/mobilier").get_data(as_text=True)
    assert _struck(_card(listing, "table-en-chene-n-1")) == ["55,00\u00a0€"]
    assert "60,00" not in listing

    inflated_page = client.get("/fr/produits/table-gonflee").get_data(as_text=True)
    assert "55,00\u00a0€" in inflated_page
    assert _struck(inflated_page) == [] and "price-reference" not in inflated_page
    assert _struck(_card(listing, "table-gonflee")) == []
