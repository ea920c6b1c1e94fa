"""The demo shop, loaded once for this module on the test PostgreSQL through ``demo.load``."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, text

from shop import demo
from shop.accounts.models import User
from shop.catalogue import services as catalogue
from shop.catalogue.models import (
    Category,
    Product,
    ProductImage,
    ProductStatus,
    ProductTranslation,
    ProductVariant,
    product_tags,
)
from shop.clock import utcnow
from shop.commands import DEMO_PASSWORD
from shop.extensions import db
from shop.inventory.models import InventoryItem, InventoryMovement
from tests.conftest import _empty_tables

PRODUCTS = 240


@pytest.fixture(scope="module")
def shop(_session_app, test_env):
    """One seeded shop for every test here (seeding takes a few seconds)."""
    app = _session_app
    _empty_tables(app)
    with app.app_context():
        lines = demo.load(password=DEMO_PASSWORD, products=PRODUCTS)
    yield app, lines
    _empty_tables(app)


@pytest.fixture
def ctx(shop):
    app, _ = shop
    with app.app_context():
        yield app


def scalars(statement):
    return list(db.session.execute(statement).scalars())


def count(model) -> int:
    return db.session.execute(db.select(func.count()).select_from(model)).scalar_one()


def test_summary_lines_count_what_was_loaded(shop):
    _, lines = shop
    assert any(line.startswith(f"catalogue: {PRODUCTS} products (") for line in lines)
    assert sum(line.startswith("admin") for line in lines) == 1


def test_products_by_status(ctx):
    statuses = Counter(scalars(db.select(Product.status)))
    assert sum(statuses.values()) == PRODUCTS
    assert statuses[ProductStatus.ACTIVE] >= 200
    assert statuses[ProductStatus.DRAFT] >= 2
    assert statuses[ProductStatus.ARCHIVED] >= 2
    drafts = scalars(db.select(Product).where(Product.status == ProductStatus.DRAFT))
    assert all(p.published_at is None for p in drafts)


def test_categories_form_a_two_level_tree_with_featured_parents(ctx):
    categories = scalars(db.select(Category))
    parents = [c for c in categories if c.parent_id is None]
    children = [c for c in categories if c.parent_id is not None]
    assert len(categories) >= 12
    assert len(parents) >= 4 and len(children) >= 12
    assert all(c.featured for c in parents)
    assert all(c.parent.parent_id is None for c in children)
    assert all(set(c.translations) == {"fr", "en"} for c in categories)
    chairs = next(c for c in children if c.translations["fr"].name == "Chaises")
    assert chairs.translations["en"].name == "Chairs"
    assert chairs.parent.translations["en"].name == "Furniture"
    used = set(scalars(db.select(Product.category_id)))
    assert used == {c.id for c in children}


def test_every_product_has_both_languages_with_distinct_slugs(ctx):
    rows = db.session.execute(
        db.select(ProductTranslation.product_id, ProductTranslation.locale, ProductTranslation)
    ).all()
    locales = Counter(product_id for product_id, _, _ in rows)
    assert len(locales) == PRODUCTS
    assert set(locales.values()) == {2}
    for locale in ("fr", "en"):
        translations = [t for _, loc, t in rows if loc == locale]
        assert len({t.slug for t in translations}) == PRODUCTS
        assert len({t.title for t in translations}) == PRODUCTS
        assert all(t.description.count("<p>") >= 2 for t in translations)
        assert all(40 <= len(t.meta_description) <= 160 for t in translations)


def test_french_text_uses_french_typography(ctx):
    french = scalars(db.select(ProductTranslation).where(ProductTranslation.locale == "fr"))
    texts = [t.title for t in french] + [t.description for t in french]
    assert not [t for t in texts if any(bad in t for bad in (" :", " ;", " !", " ?", "« ", " »"))]
    titles = {t.title for t in french}
    assert "Coffret «\u00a0Les Élégantes\u00a0»\u00a0: six tasses en grès" in titles
    assert "Affiche «\u00a0Bonjour\u202f!\u00a0» en papier coton" in titles
    assert sum("\u202f?" in t.description for t in french) >= PRODUCTS // 2


def test_the_elegant_cups_are_found_by_an_unaccented_search(ctx):
    [product_id] = scalars(
        db.select(ProductTranslation.product_id).where(
            ProductTranslation.locale == "fr",
            ProductTranslation.title == "Tasses élégantes en grès",
        )
    )
    product = db.session.get(Product, product_id)
    assert product.translations["en"].title == "Elegant stoneware cups"
    found = scalars(
        db.select(ProductTranslation.product_id).where(
            ProductTranslation.locale == "fr",
            ProductTranslation.search_vector.op("@@")(
                func.plainto_tsquery(text("'fr_unaccent'::regconfig"), "elegante")
            ),
        )
    )
    assert product_id in found


def test_variants_have_bilingual_options_unique_skus_and_valid_barcodes(ctx):
    variants = scalars(db.select(ProductVariant))
    assert len(variants) >= PRODUCTS
    assert len({v.sku for v in variants}) == len(variants)
    assert len({v.barcode for v in variants}) == len(variants)
    for variant in variants:
        assert len(variant.barcode) == 13 and variant.barcode.isdigit()
        digits = [int(d) for d in variant.barcode]
        assert sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0
    with_options = [v for v in variants if v.options]
    assert len(with_options) >= len(variants) // 2
    for variant in with_options:
        [option] = variant.options
        assert set(option["name"]) == set(option["value"]) == {"fr", "en"}
        assert option["value"]["fr"] and option["value"]["en"]
    sizes = [v for v in variants if v.options and v.options[0]["name"]["en"] == "Size"]
    assert sizes and {v.options[0]["value"]["fr"] for v in sizes} <= {"Petit", "Moyen", "Grand"}


def test_digital_and_service_products_are_not_tracked(ctx):
    rows = db.session.execute(
        db.select(Product.kind, ProductVariant.track_inventory).join(ProductVariant.product)
    ).all()
    kinds = Counter(kind for kind, _ in rows)
    assert kinds["physical"] and kinds["digital"] and kinds["service"]
    assert all(tracked == (kind == "physical") for kind, tracked in rows)


def test_min_price_is_the_cheapest_active_variant(ctx):
    cheapest = dict(
        db.session.execute(
            db.select(ProductVariant.product_id, func.min(ProductVariant.price))
            .where(ProductVariant.is_active)
            .group_by(ProductVariant.product_id)
        ).all()
    )
    assert dict(db.session.execute(db.select(Product.id, Product.min_price)).all()) == cheapest


def test_discounts_carry_an_omnibus_reference_from_the_price_history(ctx):
    discounted = scalars(
        db.select(ProductVariant).where(ProductVariant.compare_at_price.is_not(None))
    )
    total = count(ProductVariant)
    assert 0.08 * total <= len(discounted) <= 0.25 * total
    for variant in discounted:
        assert variant.price < variant.compare_at_price
        assert variant.lowest_prior_price is not None
        assert variant.lowest_prior_price == catalogue.lowest_price_before(
            variant.id, variant.price_since
        )
        assert variant.price_since < utcnow()
    references_below = [v for v in discounted if v.lowest_prior_price != v.compare_at_price]
    assert references_below
    assert all(v.price < v.lowest_prior_price < v.compare_at_price for v in references_below)
    cups = next(v for v in discounted if v.sku == "TA-00001-1")
    assert cups in references_below


def _packs(variants) -> list[tuple[object, int, object]]:
    """(single, how many, pack) for each pack among variants of one product, in order."""
    sizes = {"Single": 1, "Set of 2": 2, "Set of 4": 4, "Set of 6": 6}
    by_size = {
        sizes[v.options[0]["value"]["en"]]: v
        for v in variants
        if v.options and v.options[0]["name"]["en"] == "Set"
    }
    return [(by_size[1], n, pack) for n, pack in sorted(by_size.items()) if n > 1]


def test_every_pack_costs_less_than_as_many_singles(ctx):
    by_product: dict[int, list[ProductVariant]] = {}
    for variant in scalars(db.select(ProductVariant).order_by(ProductVariant.position)):
        by_product.setdefault(variant.product_id, []).append(variant)
    packs = [p for variants in by_product.values() for p in _packs(variants)]
    assert len(packs) >= 20
    for single, n, pack in packs:
        assert pack.price < n * single.price, (pack.sku, pack.price, single.price)
        if pack.compare_at_price is not None:  # a reduced pack was dearer than its singles too
            assert pack.compare_at_price < n * single.compare_at_price
    # The plan, over a bigger shop: the first prices and the current ones.
    plans = demo.Planner(600, utcnow()).plans()
    planned = [p for plan in plans for p in _packs(plan.variants)]
    assert len(planned) >= 60
    for single, n, pack in planned:
        assert pack.price < n * single.price
        assert pack.final_price < n * single.final_price


def test_the_old_price_ran_for_40_days_before_each_discount(ctx):
    for variant in scalars(
        db.select(ProductVariant).where(ProductVariant.compare_at_price.is_not(None))
    ):
        history = sorted(
            db.session.execute(
                text("SELECT price, started_at FROM price_history WHERE variant_id = :id"),
                {"id": variant.id},
            ).all(),
            key=lambda row: row.started_at,
        )
        first_price, first_started = history[0]
        assert first_price == variant.compare_at_price
        assert variant.price_since - first_started >= timedelta(days=40)
        assert history[-1] == (variant.price, variant.price_since)


def test_stock_arrives_through_receipts_and_some_products_are_sold_out(ctx):
    on_hand = dict(
        db.session.execute(db.select(InventoryItem.variant_id, InventoryItem.on_hand)).all()
    )
    received = dict(
        db.session.execute(
            db.select(InventoryMovement.variant_id, func.sum(InventoryMovement.quantity))
            .where(InventoryMovement.kind == "receipt")
            .group_by(InventoryMovement.variant_id)
        ).all()
    )
    assert len(received) >= PRODUCTS
    assert on_hand == received
    assert set(scalars(db.select(InventoryMovement.kind))) == {"receipt"}

    tracked = db.session.execute(
        db.select(ProductVariant.product_id, ProductVariant.id)
        .join(ProductVariant.product)
        .where(Product.status == ProductStatus.ACTIVE, ProductVariant.track_inventory)
    ).all()
    stock_by_product: dict[int, int] = {}
    for product_id, variant_id in tracked:
        stock_by_product[product_id] = stock_by_product.get(product_id, 0) + on_hand.get(
            variant_id, 0
        )
    sold_out = [p for p, quantity in stock_by_product.items() if quantity == 0]
    assert 0.04 * len(stock_by_product) <= len(sold_out) <= 0.2 * len(stock_by_product)


def test_tags_are_bilingual_and_used(ctx):
    tag_names = scalars(text("SELECT name FROM tag_translations WHERE locale = 'fr'"))
    assert len(tag_names) >= 15
    assert {"Fait main", "Bois massif", "Éco-conçu", "Nouveauté"} <= set(tag_names)
    per_tag = Counter(scalars(db.select(product_tags.c.tag_id)))
    assert len(per_tag) >= 12


def test_every_product_has_pictures_stored_through_the_upload_pipeline(ctx):
    pictures = scalars(db.select(ProductImage))
    per_product = Counter(i.product_id for i in pictures)
    assert len(per_product) == PRODUCTS
    assert set(per_product.values()) <= {1, 2, 3}
    files = {i.path for i in pictures}
    # one overall view per product, a close-up per material, a room per top category
    assert len(files) <= PRODUCTS + len(demo.MATERIALS) + len(demo.PARENTS)
    media = Path(ctx.config["MEDIA_ROOT"])
    for image in pictures:
        assert (media / image.path).is_file()
        assert (image.width, image.height) == (1600, 1200)
        assert image.alt_fr and image.alt_en
        assert image.path.endswith(f"{image.sha256[:16]}.jpg")
    positions = Counter((i.product_id, i.position) for i in pictures)
    assert set(positions.values()) == {1}


def test_no_two_products_of_a_category_show_the_same_first_picture(ctx):
    first = {}
    for image in scalars(db.select(ProductImage).where(ProductImage.position == 0)):
        first[image.product_id] = image.sha256
    per_category: dict[int, list[str]] = {}
    for product in scalars(db.select(Product)):
        per_category.setdefault(product.category_id, []).append(first[product.id])
    for shown in per_category.values():
        assert len(set(shown)) == len(shown)


def test_write_to_us_in_descriptions_links_to_the_contact_page(ctx):
    texts = scalars(db.select(ProductTranslation))
    french = [t.description for t in texts if t.locale == "fr" and "Écrivez-nous" in t.description]
    english = [t.description for t in texts if t.locale == "en" and "Write to us" in t.description]
    assert french and english
    assert all(re.search(r'<a href="/fr/contact"[^>]*>Écrivez-nous</a>', d) for d in french)
    assert all(re.search(r'<a href="/en/contact"[^>]*>Write to us</a>', d) for d in english)


def test_the_demo_fills_the_home_page_hero(ctx):
    from shop.platform import hero

    assert hero.texts("fr")["link"] == "/fr/categories/chaises"
    assert hero.texts("en")["button"] == "Discover the chairs"


def test_pictures_are_drawn_the_same_every_time_without_text():
    key = ("product", "chaises/chene", 42)
    assert demo.draw_picture(key) == demo.draw_picture(key)
    assert demo.draw_picture(key) != demo.draw_picture(("product", "chaises/chene", 43))
    assert "ImageFont" not in Path(demo.__file__).read_text()  # no watermark, no monogram


def test_loading_again_adds_nothing(ctx):
    before = {model: count(model) for model in (User, Product, ProductVariant, ProductImage)}

    again = demo.load(password=DEMO_PASSWORD, products=PRODUCTS)
    result = ctx.test_cli_runner().invoke(args=["shop", "seed-demo", "--if-empty"])

    assert again == ["catalogue already has products, left as it is"]
    assert result.exit_code == 0
    assert result.output == "demo: the database already has data, nothing loaded\n"
    assert {model: count(model) for model in before} == before


def test_the_plan_is_the_same_on_every_run():
    now = utcnow()
    first = [
        (p.texts["fr"].title, [v.price for v in p.variants]) for p in demo.Planner(60, now).plans()
    ]
    second = [
        (p.texts["fr"].title, [v.price for v in p.variants]) for p in demo.Planner(60, now).plans()
    ]
    assert first == second
    assert demo.ean13("400638133393") == "4006381333931"
    assert [demo.shop_price(c) for c in (1234, 14_870, 128_912)] == [1190, 14_990, 128_990]


def test_seo_check_passes_on_the_demo_shop(shop):
    app, _ = shop
    result = app.test_cli_runner().invoke(args=["shop", "seo-check"])
    assert result.exit_code == 0, result.output
    assert "seo-check: no problems" in result.output, result.output
    pages = int(re.search(r"(\d+) pages", result.output).group(1))
    assert pages >= 2 * 200  # every active product in both languages, and more
