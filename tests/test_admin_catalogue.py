"""Back-office catalogue: the product list, product editing under the publishing rules,
variants, images, categories and tags; every refusal changes nothing and every write is
audited; the storefront sees each change at once."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from shop.audit.models import AuditLog
from shop.catalogue import services
from shop.catalogue.models import (
    Category,
    PriceHistory,
    Product,
    ProductImage,
    ProductStatus,
    ProductVariant,
    Tag,
    UrlRedirect,
)
from shop.catalogue.services import Text, VariantInput
from shop.extensions import db
from shop.inventory.services import receive
from tests import catalogue_factory
from tests.admin_support import admin_csrf, login_staff

# -- helpers -----------------------------------------------------------------------------


@pytest.fixture
def manager(app: Flask) -> FlaskClient:
    """A manager, logged in, working in French."""
    client = app.test_client()
    login_staff(client, app, "manager")
    return client


@pytest.fixture
def shop(app: Flask) -> dict[str, int]:
    """Mobilier > Chaises, and the tags Bois massif and Fait main."""
    with app.app_context():
        furniture = catalogue_factory.category("Mobilier", "Furniture")
        chairs = catalogue_factory.category("Chaises", "Chairs", parent_id=furniture.id)
        wood = catalogue_factory.tag("Bois massif", "Solid wood")
        handmade = catalogue_factory.tag("Fait main", "Handmade")
        return {
            "furniture": furniture.id,
            "chairs": chairs.id,
            "wood": wood.id,
            "handmade": handmade.id,
        }


def make_product(
    title_fr: str | None = "Chaise en chêne",
    title_en: str | None = "Oak chair",
    *,
    description_fr: str = "<p>Une chaise solide.</p>",
    sku: str | None = None,
    price: int = 4500,
    status: str = ProductStatus.DRAFT,
    category_id: int | None = None,
    tag_ids: tuple[int, ...] = (),
) -> int:
    texts = {}
    if title_fr is not None:
        texts["fr"] = Text(title=title_fr, description=description_fr)
    if title_en is not None:
        texts["en"] = Text(title=title_en, description="<p>A sturdy chair.</p>")
    variants = [VariantInput(sku=sku, price=price, track_inventory=False)] if sku else []
    product = catalogue_factory.product(
        texts, status=status, variants=variants, category_id=category_id, tag_ids=tag_ids
    )
    return product.id


def product_form(**overrides: str | list[str]) -> dict[str, str | list[str]]:
    data: dict[str, str | list[str]] = {
        "fr-title": "Fauteuil « Élégance »",
        "fr-description": "<p>Un fauteuil en <strong>chêne</strong>.</p><script>alert(1)</script>",
        "fr-meta_title": "",
        "fr-meta_description": "",
        "fr-slug": "",
        "en-title": "Elegance armchair",
        "en-description": "<p>An oak armchair.</p>",
        "en-meta_title": "",
        "en-meta_description": "",
        "en-slug": "",
        "status": "draft",
        "kind": "physical",
        "tax_class": "standard",
        "category_id": "",
    }
    data.update(overrides)
    return data


def variant_form(**overrides: str) -> dict[str, str]:
    data = {
        "sku": "FAUT-CHENE",
        "price": "129,90",
        "compare_at_price": "",
        "barcode": "",
        "weight_grams": "",
        "track_inventory": "y",
        "option1-name_fr": "Couleur",
        "option1-value_fr": "Naturel",
        "option1-name_en": "Colour",
        "option1-value_en": "Natural",
    }
    data.update(overrides)
    return data


def picture(fmt: str = "PNG", size: tuple[int, int] = (600, 400)) -> bytes:
    gradient = Image.linear_gradient("L").resize(size)
    out = io.BytesIO()
    Image.merge("RGB", (gradient, gradient, gradient)).save(out, fmt)
    return out.getvalue()


def noise_jpeg(size: tuple[int, int] = (300, 300)) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(out, "JPEG")
    return out.getvalue()


def html(response) -> str:
    return response.get_data(as_text=True)


def plain(text: str) -> str:
    """French typography's no-break spaces as plain spaces, for readable asserts."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def audit_actions(app: Flask) -> list[tuple[str, str, str]]:
    with app.app_context():
        return [
            (e.action, e.entity_type, e.entity_id)
            for e in db.session.scalars(db.select(AuditLog).order_by(AuditLog.id))
        ]


def count(app: Flask, model: type) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def post(client: FlaskClient, url: str, data: dict, **kwargs):
    return client.post(url, data={"csrf_token": admin_csrf(client), **data}, **kwargs)


# -- product list ------------------------------------------------------------------------


def test_list_searches_titles_and_skus_and_filters(app, manager, shop):
    with app.app_context():
        make_product("Chaise en chêne", "Oak chair", sku="CH-1", category_id=shop["chairs"])
        make_product("Table basse", "Coffee table", sku="TB-1", status=ProductStatus.ACTIVE)
        make_product("Banc", None)  # a draft without English

    by_title = html(manager.get("/admin/products?q=chêne"))
    by_sku = html(manager.get("/admin/products?q=tb-1"))
    active = html(manager.get("/admin/products?status=active"))
    in_category = html(manager.get(f"/admin/products?category={shop['furniture']}"))
    no_match = html(manager.get("/admin/products?q=%25_%27%3Cscript%3E"))

    assert "Chaise en chêne" in by_title and "Table basse" not in by_title
    assert "Table basse" in by_sku and "Chaise en chêne" not in by_sku
    assert "Table basse" in active and "Banc" not in active
    assert "Chaise en chêne" in in_category and "Table basse" not in in_category  # subtree
    assert "Aucun produit ne correspond" in no_match
    assert "<script>" not in no_match.split('id="product-results"')[1]


def test_list_filters_by_tag_kind_and_stock_and_sorts_by_price(app, manager, shop):
    with app.app_context():
        make_product("Tabouret", "Stool", sku="TAB-1", price=1500, tag_ids=(shop["wood"],))
        dear = make_product("Armoire", "Wardrobe", price=90000)
        tracked = services.create_variant(dear, VariantInput(sku="ARM-1", price=90000))
        empty = make_product("Commode", "Chest", price=30000)
        services.create_variant(empty, VariantInput(sku="COM-1", price=30000))
        receive(tracked.id, 2, reason="Réception")

    tagged = html(manager.get(f"/admin/products?tag={shop['wood']}"))
    out = html(manager.get("/admin/products?stock=out"))
    low = html(manager.get("/admin/products?stock=low"))
    in_stock = html(manager.get("/admin/products?stock=in_stock"))
    digital = html(manager.get("/admin/products?kind=digital"))
    by_price = html(manager.get("/admin/products?sort=price_desc"))

    assert "Tabouret" in tagged and "Armoire" not in tagged
    assert "Commode" in out and "Armoire" not in out and "Tabouret" not in out
    assert "Armoire" in low and "Tabouret" not in low  # 2 units, threshold 3
    assert "Tabouret" in in_stock and "Armoire" in in_stock and "Commode" not in in_stock
    assert "Aucun produit ne correspond" in digital
    assert by_price.index("Armoire") < by_price.index("Commode") < by_price.index("Tabouret")


def test_search_as_you_type_gets_only_the_results(app, manager, hx):
    with app.app_context():
        make_product("Chaise en chêne", "Oak chair")

    page = html(manager.get("/admin/products"))
    fragment = manager.get(
        "/admin/products?q=chaise", headers=hx(**{"HX-Target": "product-results"})
    )

    assert 'hx-trigger="input changed delay:300ms, search"' in page
    assert re.search(r'<form method="get" action="/admin/products"', page)
    assert fragment.status_code == 200
    assert "HX-Request" in fragment.headers["Vary"]
    body = html(fragment)
    assert body.lstrip().startswith('<div id="product-results">')
    assert "<html" not in body and "Chaise en chêne" in body


def test_list_paginates_keeping_the_filters(app, manager):
    with app.app_context():
        for i in range(55):
            make_product(f"Chaise n° {i:02d}", f"Chair no. {i:02d}")

    first = html(manager.get("/admin/products?q=chaise&sort=title"))
    second = html(manager.get("/admin/products?q=chaise&sort=title&page=2"))

    assert "55 produits" in first
    assert "Chaise n° 00" in first and "Chaise n° 50" not in first
    next_link = re.search(r'<a href="([^"]+)"[^>]*rel="next"', first).group(1)
    assert sorted(next_link.split("?")[1].split("&amp;")) == ["page=2", "q=chaise", "sort=title"]
    assert "Chaise n° 50" in second and "Chaise n° 54" in second and "Chaise n° 00" not in second


def test_list_query_count_does_not_grow_with_the_catalogue(app, manager, queries, shop):
    def statements() -> int:
        with queries() as seen:
            assert manager.get("/admin/products").status_code == 200
        return len(seen)

    with app.app_context():
        for i in range(3):
            make_product(f"Chaise {i}", f"Chair {i}", sku=f"A-{i}", category_id=shop["chairs"])
    few = statements()
    with app.app_context():
        for i in range(40):
            pid = make_product(
                f"Table {i}",
                f"Table {i}",
                sku=f"B-{i}",
                category_id=shop["chairs"],
                tag_ids=(shop["wood"],),
            )
            services.create_variant(pid, VariantInput(sku=f"B-{i}-L", price=100))
    many = statements()

    assert few == many
    assert many <= 8


# -- create and edit ---------------------------------------------------------------------


def test_create_a_product_in_both_languages_is_audited(app, manager, shop):
    response = post(
        manager,
        "/admin/products/new",
        product_form(category_id=str(shop["chairs"]), tags=[str(shop["wood"])]),
    )

    assert response.status_code == 303
    with app.app_context():
        product = db.session.scalars(db.select(Product)).one()
        assert response.headers["Location"] == f"/admin/products/{product.id}"
        fr, en = product.translations["fr"], product.translations["en"]
        assert (fr.title, fr.slug) == ("Fauteuil « Élégance »", "fauteuil-elegance")
        assert fr.description == "<p>Un fauteuil en <strong>chêne</strong>.</p>"  # sanitized
        assert (en.title, en.slug) == ("Elegance armchair", "elegance-armchair")
        assert product.status == ProductStatus.DRAFT
        assert product.category_id == shop["chairs"]
        assert [t.id for t in product.tags] == [shop["wood"]]
        entry = db.session.scalars(db.select(AuditLog)).one()
        assert (entry.action, entry.entity_type, entry.entity_id) == (
            "product.create",
            "product",
            str(product.id),
        )
        assert entry.before is None
        assert entry.after["fr.title"] == "Fauteuil « Élégance »"
        assert entry.after["status"] == "draft"


def test_publishing_without_the_french_title_is_refused_and_nothing_saved(app, manager):
    response = post(
        manager,
        "/admin/products/new",
        product_form(**{"fr-title": "", "fr-description": "", "status": "active"}),
    )

    page = html(response)
    assert response.status_code == 422
    assert "Un produit ne peut être publié qu’avec son titre en français." in page
    assert 'value="Elegance armchair"' in page  # the input is kept
    assert count(app, Product) == 0
    assert count(app, AuditLog) == 0


def test_editing_a_published_product_cannot_drop_its_french_description(app, manager):
    with app.app_context():
        product_id = make_product(sku="CH-1", status=ProductStatus.ACTIVE)
    form = product_form(
        **{"fr-title": "Chaise en chêne", "fr-description": "  ", "status": "active"}
    )

    response = post(manager, f"/admin/products/{product_id}", form)

    assert response.status_code == 422
    assert "Un produit ne peut être publié qu’avec sa description en français." in html(response)
    with app.app_context():
        fr = db.session.get(Product, product_id).translations["fr"]
        assert fr.description == "<p>Une chaise solide.</p>"
    assert count(app, AuditLog) == 0


def test_publish_button_refuses_a_product_without_french_text_or_variant(app, manager):
    with app.app_context():
        product_id = make_product(None, "Oak chair")

    response = post(
        manager, f"/admin/products/{product_id}/status", {"confirm": "1", "status": "active"}
    )

    page = html(response)
    assert response.status_code == 422
    assert "Un produit ne peut être publié qu’avec son titre en français." in page
    assert "Ajoutez une déclinaison avec son prix avant de publier ce produit." in page
    with app.app_context():
        assert db.session.get(Product, product_id).status == ProductStatus.DRAFT
    assert count(app, AuditLog) == 0


def test_a_product_without_english_is_not_published(app, manager):
    """The storefront shows every product in both languages (hreflang twins)."""
    with app.app_context():
        product_id = make_product("Chaise en chêne", None, sku="CH-1")

    response = post(
        manager, f"/admin/products/{product_id}/status", {"confirm": "1", "status": "active"}
    )

    assert response.status_code == 422
    assert "Un produit ne peut être publié qu’avec aussi son titre en anglais" in html(response)
    with app.app_context():
        assert db.session.get(Product, product_id).status == ProductStatus.DRAFT


def test_publish_and_archive_are_audited_and_reach_the_storefront(app, manager, client):
    with app.app_context():
        product_id = make_product(sku="CH-1")
    assert client.get("/fr/produits/chaise-en-chene").status_code == 404

    published = post(
        manager, f"/admin/products/{product_id}/status", {"confirm": "1", "status": "active"}
    )
    shown = client.get("/fr/produits/chaise-en-chene")
    archived = post(
        manager, f"/admin/products/{product_id}/status", {"confirm": "1", "status": "archived"}
    )
    gone = client.get("/fr/produits/chaise-en-chene")

    assert published.status_code == archived.status_code == 303
    assert shown.status_code == 200 and "Chaise en chêne" in html(shown)
    assert gone.status_code == 404
    assert audit_actions(app) == [
        ("product.publish", "product", str(product_id)),
        ("product.archive", "product", str(product_id)),
    ]


def test_update_changes_the_cached_storefront_page_and_a_new_slug_redirects(app, manager, client):
    with app.app_context():
        product_id = make_product(sku="CH-1", status=ProductStatus.ACTIVE)
    assert "Chaise en chêne" in html(client.get("/fr/produits/chaise-en-chene"))  # now cached
    form = product_form(
        **{
            "fr-title": "Chaise en chêne massif",
            "fr-description": "<p>Une chaise solide.</p>",
            "fr-slug": "chaise-chene-massif",
            "en-title": "Oak chair",
            "en-description": "<p>A sturdy chair.</p>",
            "status": "active",
        }
    )

    response = post(manager, f"/admin/products/{product_id}", form)

    assert response.status_code == 303
    moved = client.get("/fr/produits/chaise-en-chene")
    assert moved.status_code == 301
    assert moved.headers["Location"].endswith("/fr/produits/chaise-chene-massif")
    assert "Chaise en chêne massif" in html(client.get("/fr/produits/chaise-chene-massif"))
    with app.app_context():
        entry = db.session.scalars(db.select(AuditLog)).one()
        assert entry.action == "product.update"
        assert entry.before == {"fr.title": "Chaise en chêne", "fr.slug": "chaise-en-chene"}
        assert entry.after == {
            "fr.title": "Chaise en chêne massif",
            "fr.slug": "chaise-chene-massif",
        }


def test_a_slug_used_by_another_product_is_refused(app, manager):
    with app.app_context():
        make_product("Table", "Table")
        product_id = make_product()
    form = product_form(**{"fr-slug": "table", "fr-title": "Chaise"})

    response = post(manager, f"/admin/products/{product_id}", form)

    assert response.status_code == 422
    assert "Cette adresse web est déjà utilisée par une autre page." in html(response)
    with app.app_context():
        fr = db.session.get(Product, product_id).translations["fr"]
        assert (fr.title, fr.slug) == ("Chaise en chêne", "chaise-en-chene")
        assert db.session.scalar(db.select(db.func.count(UrlRedirect.id))) == 0


def test_edit_page_shows_completeness_and_the_search_result_preview(app, manager):
    with app.app_context():
        product_id = make_product()

    page = html(manager.get(f"/admin/products/{product_id}"))

    assert 'id="seo-fr"' in page and 'id="seo-en"' in page
    assert "http://127.0.0.1:5000/fr/produits/chaise-en-chene" in page
    assert "Chaise en chêne · Comptoir" in page
    assert "3 sur 6" in page  # title, description, address; no meta, no image


def test_live_preview_follows_the_typed_text(app, manager, hx):
    with app.app_context():
        product_id = make_product()
    data = product_form(
        **{
            "locale": "en",
            "product_id": str(product_id),
            "en-title": "Oak chair",
            "en-meta_title": "The oak chair that lasts",
            "en-meta_description": "x" * 170,
        }
    )

    response = post(manager, "/admin/products/seo-preview", data, headers=hx())

    body = html(response)
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="seo-en"')
    assert "The oak chair that lasts · Comptoir" in body
    assert "http://127.0.0.1:5000/en/products/oak-chair" in body
    assert "Description\u00a0: 170 / 160 caractères" in body
    assert "5 sur 6" in body


# -- variants ----------------------------------------------------------------------------


def test_add_a_variant_with_a_french_decimal_price(app, manager):
    with app.app_context():
        product_id = make_product()

    response = post(manager, f"/admin/products/{product_id}/variants", variant_form())

    assert response.status_code == 303
    with app.app_context():
        variant = db.session.scalars(db.select(ProductVariant)).one()
        assert (variant.sku, variant.price, variant.compare_at_price) == ("FAUT-CHENE", 12990, None)
        assert variant.options == [
            {"name": {"fr": "Couleur", "en": "Colour"}, "value": {"fr": "Naturel", "en": "Natural"}}
        ]
        assert db.session.get(Product, product_id).min_price == 12990
        assert [p.price for p in db.session.scalars(db.select(PriceHistory))] == [12990]
    assert audit_actions(app) == [("variant.create", "variant", str(variant.id))]


@pytest.mark.parametrize(
    ("typed", "minor"),
    [("1 299,90 €", 129990), ("1 299,9 EUR", 129990), ("€1299,90", 129990), (",5", 50)],
)
def test_a_price_may_carry_grouping_and_the_currency(app, manager, typed, minor):
    with app.app_context():
        product_id = make_product()

    response = post(manager, f"/admin/products/{product_id}/variants", variant_form(price=typed))

    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalars(db.select(ProductVariant.price)).one() == minor


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("-3,00", "Le prix ne peut pas être négatif."),
        ("douze", "Saisissez un montant comme 12,50."),
        ("12,505", "Utilisez au plus 2 décimales."),
        ("30 000 000,00", "Ce montant est trop élevé."),  # beyond the 32-bit money columns
        ("12,50 $", "Saisissez un montant comme 12,50."),  # not the shop's currency
    ],
)
def test_a_bad_price_is_refused_with_the_input_kept(app, manager, price, message):
    with app.app_context():
        product_id = make_product()

    response = post(manager, f"/admin/products/{product_id}/variants", variant_form(price=price))

    page = html(response)
    assert response.status_code == 422
    assert message in page
    assert f'value="{price}"' in page
    assert count(app, ProductVariant) == 0
    assert count(app, AuditLog) == 0


def test_a_compare_at_price_below_the_price_is_refused(app, manager):
    with app.app_context():
        product_id = make_product()

    response = post(
        manager,
        f"/admin/products/{product_id}/variants",
        variant_form(price="20,00", compare_at_price="15,00"),
    )

    assert response.status_code == 422
    assert "Le prix barré doit être supérieur au prix, ou rester vide." in html(response)
    assert count(app, ProductVariant) == 0


def test_a_duplicate_sku_is_refused_inline_and_on_save(app, manager, hx):
    with app.app_context():
        other = make_product("Table", "Table", sku="FAUT-CHENE")
        product_id = make_product()

    inline = manager.get("/admin/products/sku-check?sku=faut-chene", headers=hx())
    free = manager.get("/admin/products/sku-check?sku=FAUT-NEUF", headers=hx())
    saved = post(manager, f"/admin/products/{product_id}/variants", variant_form())

    assert inline.status_code == 409
    assert "Cette référence est déjà utilisée par une autre déclinaison." in html(inline)
    assert f"/admin/products/{other}" in html(inline)
    assert free.status_code == 200 and "Cette référence est libre." in html(free)
    assert saved.status_code == 422
    assert "Cette référence est déjà utilisée par une autre déclinaison." in html(saved)
    assert 'value="FAUT-CHENE"' in html(saved)
    with app.app_context():
        assert db.session.get(Product, product_id).variants == []
    assert count(app, AuditLog) == 0


def test_the_sku_check_ignores_the_variant_being_edited(app, manager, hx):
    with app.app_context():
        product_id = make_product(sku="CH-1")
        variant_id = db.session.get(Product, product_id).variants[0].id

    response = manager.get(f"/admin/products/sku-check?sku=CH-1&variant_id={variant_id}")

    assert response.status_code == 200


def test_a_price_change_goes_through_the_price_history(app, manager):
    with app.app_context():
        product_id = make_product(sku="CH-1", price=4500)
        variant_id = db.session.get(Product, product_id).variants[0].id

    response = post(
        manager,
        f"/admin/products/variants/{variant_id}",
        variant_form(sku="CH-1", price="39,90", compare_at_price="45,00"),
    )

    assert response.status_code == 303
    with app.app_context():
        variant = db.session.get(ProductVariant, variant_id)
        assert (variant.price, variant.compare_at_price) == (3990, 4500)
        assert variant.lowest_prior_price == 4500  # the Omnibus reference
        history = db.session.scalars(db.select(PriceHistory.price).order_by(PriceHistory.id)).all()
        assert history == [4500, 3990]
        entry = db.session.scalars(db.select(AuditLog)).one()
        assert entry.action == "variant.update"
        assert (entry.before["price"], entry.after["price"]) == (4500, 3990)


def test_the_variant_edit_page_shows_amounts_in_the_staff_language(app, manager):
    with app.app_context():
        product_id = make_product(sku="CH-1", price=123456)
        variant_id = db.session.get(Product, product_id).variants[0].id

    page = html(manager.get(f"/admin/products/variants/{variant_id}"))

    assert 'value="1234,56"' in page


def test_remove_deletes_an_unused_variant_and_deactivates_a_used_one(app, manager):
    with app.app_context():
        product_id = make_product(sku="CH-1")
        used = services.create_variant(product_id, VariantInput(sku="CH-2", price=100))
        receive(used.id, 3, reason="Réception")
        unused_id = db.session.get(Product, product_id).variants[0].id
        used_id = used.id

    deleted = post(manager, f"/admin/products/variants/{unused_id}/remove", {"confirm": "1"})
    kept = post(manager, f"/admin/products/variants/{used_id}/remove", {"confirm": "1"})

    assert deleted.status_code == kept.status_code == 303
    with app.app_context():
        assert db.session.get(ProductVariant, unused_id) is None
        assert db.session.get(ProductVariant, used_id).is_active is False
        assert db.session.get(Product, product_id).min_price == 0
        entries = db.session.scalars(db.select(AuditLog).order_by(AuditLog.id)).all()
        assert [e.action for e in entries] == ["variant.remove", "variant.remove"]
        assert entries[0].after is None
        assert entries[1].after == {"is_active": False}


def test_the_last_variant_of_a_published_product_stays(app, manager, hx):
    with app.app_context():
        product_id = make_product(sku="CH-1", status=ProductStatus.ACTIVE)
        variant_id = db.session.get(Product, product_id).variants[0].id

    response = post(
        manager, f"/admin/products/variants/{variant_id}/remove", {"confirm": "1"}, headers=hx()
    )

    assert response.status_code == 422
    assert html(response).lstrip().startswith('<section id="variants"')
    assert "Un produit publié garde au moins une déclinaison." in html(response)
    assert count(app, ProductVariant) == 1
    assert count(app, AuditLog) == 0


# -- images ------------------------------------------------------------------------------


def test_upload_reorder_describe_and_delete_images(app, manager):
    with app.app_context():
        product_id = make_product()
    url = f"/admin/products/{product_id}/images"

    first = post(
        manager,
        url,
        {"image": (io.BytesIO(picture("PNG")), "a.png"), "alt_fr": "Face", "alt_en": "Front"},
        content_type="multipart/form-data",
    )
    second = post(
        manager,
        url,
        {"image": (io.BytesIO(picture("JPEG", (500, 500))), "b.jpg"), "alt_fr": "", "alt_en": ""},
        content_type="multipart/form-data",
    )
    assert first.status_code == second.status_code == 303
    with app.app_context():
        ids = db.session.scalars(db.select(ProductImage.id).order_by(ProductImage.position)).all()
        path = db.session.get(ProductImage, ids[1]).path
    assert (Path(app.config["MEDIA_ROOT"]) / path).is_file()

    moved = post(manager, f"/admin/products/images/{ids[1]}/move", {"direction": "up"})
    described = post(
        manager,
        f"/admin/products/images/{ids[1]}",
        {
            f"img{ids[1]}-csrf_token": admin_csrf(manager),
            f"img{ids[1]}-alt_fr": "Dessus",
            f"img{ids[1]}-alt_en": "Top",
            f"img{ids[1]}-confirm": "1",
        },
    )
    deleted = post(manager, f"/admin/products/images/{ids[0]}/delete", {"confirm": "1"})

    assert moved.status_code == described.status_code == deleted.status_code == 303
    with app.app_context():
        left = db.session.scalars(db.select(ProductImage)).all()
        assert [(i.id, i.position, i.alt_fr, i.alt_en) for i in left] == [
            (ids[1], 0, "Dessus", "Top")
        ]
    assert [a for a, _, _ in audit_actions(app)] == [
        "image.upload",
        "image.upload",
        "image.move",
        "image.update",
        "image.delete",
    ]


def test_the_move_buttons_swap_the_section_under_htmx(app, manager, hx):
    with app.app_context():
        product_id = make_product()
        for name in ("a", "b"):
            services_image(product_id, name)
        ids = db.session.scalars(db.select(ProductImage.id).order_by(ProductImage.position)).all()

    response = post(
        manager, f"/admin/products/images/{ids[0]}/move", {"direction": "down"}, headers=hx()
    )

    body = html(response)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="images"')
    assert body.index(f'id="image-{ids[1]}"') < body.index(f'id="image-{ids[0]}"')


def services_image(product_id: int, alt: str) -> None:
    from shop.catalogue import images

    images.add_product_image(product_id, io.BytesIO(picture()), alt_fr=alt, alt_en=alt)


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"not an image at all", 422, "Ce fichier n’est pas une image."),
        (noise_jpeg(), 413, "Ce fichier est trop lourd. Choisissez une image de moins de 0,02"),
    ],
)
def test_a_bad_upload_is_refused_with_the_alt_texts_kept(
    app, manager, monkeypatch, data, status, message
):
    monkeypatch.setitem(app.config, "IMAGE_MAX_BYTES", 20_000)
    with app.app_context():
        product_id = make_product()

    response = post(
        manager,
        f"/admin/products/{product_id}/images",
        {"image": (io.BytesIO(data), "photo.png"), "alt_fr": "Chaise vue de face", "alt_en": "x"},
        content_type="multipart/form-data",
    )

    page = html(response)
    assert response.status_code == status
    assert message in page
    assert 'value="Chaise vue de face"' in page
    assert count(app, ProductImage) == 0
    assert count(app, AuditLog) == 0
    assert not (Path(app.config["MEDIA_ROOT"]) / "products" / str(product_id)).exists()


# -- bulk actions ------------------------------------------------------------------------


def test_bulk_publish_publishes_what_it_can_and_names_the_rest(app, manager, shop):
    with app.app_context():
        ready = [make_product(f"Chaise {i}", f"Chair {i}", sku=f"CH-{i}") for i in range(2)]
        english_only = make_product(None, "Bench", sku="BE-1")
        no_variant = make_product("Tabouret", "Stool")

    response = post(
        manager,
        "/admin/products/bulk",
        {
            "action": "publish",
            "product_ids": [str(i) for i in [*ready, english_only, no_variant]],
            "next": "/admin/products?status=draft",
        },
    )

    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/products?status=draft"
    page = plain(html(manager.get("/admin/products")))
    assert "2 produits publiés." in page
    assert (
        "Non publiés : « Bench » (il manque : titre en français, description en français), "
        "« Tabouret » (il manque : une déclinaison)." in page
    )
    with app.app_context():
        statuses = dict(db.session.execute(db.select(Product.id, Product.status)).all())
        assert [statuses[i] for i in ready] == ["active", "active"]
        assert statuses[english_only] == statuses[no_variant] == "draft"
        entry = db.session.scalars(db.select(AuditLog)).one()
        assert entry.action == "product.bulk_publish"
        assert set(entry.after) == {str(i) for i in ready}
        assert all(v["status"] == "active" for v in entry.after.values())


def test_bulk_publish_with_nothing_publishable_changes_nothing(app, manager):
    with app.app_context():
        english_only = make_product(None, "Bench", sku="BE-1")

    response = post(
        manager,
        "/admin/products/bulk",
        {"action": "publish", "product_ids": [str(english_only)]},
    )

    page = plain(html(response))
    assert response.status_code == 422
    assert (
        "Non publié : « Bench » (il manque : titre en français, description en français)." in page
    )
    assert f'value="{english_only}" id="pick-{english_only}" checked' in page
    assert count(app, AuditLog) == 0


def test_bulk_archive_and_tag(app, manager, shop):
    with app.app_context():
        ids = [make_product(f"Chaise {i}", f"Chair {i}") for i in range(3)]

    tagged = post(
        manager,
        "/admin/products/bulk",
        {
            "action": "add_tag",
            "tag_id": str(shop["handmade"]),
            "product_ids": [str(i) for i in ids[:2]],
        },
    )
    archived = post(
        manager, "/admin/products/bulk", {"action": "archive", "product_ids": [str(ids[2])]}
    )

    assert tagged.status_code == archived.status_code == 303
    with app.app_context():
        products = {p.id: p for p in db.session.scalars(db.select(Product))}
        assert [[t.id for t in products[i].tags] for i in ids] == [
            [shop["handmade"]],
            [shop["handmade"]],
            [],
        ]
        assert products[ids[2]].status == "archived"
    assert [a for a, _, _ in audit_actions(app)] == ["product.bulk_add_tag", "product.bulk_archive"]


def test_bulk_without_ticked_products_is_refused(app, manager):
    response = post(manager, "/admin/products/bulk", {"action": "archive"})

    assert response.status_code == 422
    assert "Cochez au moins un produit." in html(response)


# -- categories and tags -----------------------------------------------------------------


def test_create_and_rename_a_category_leaves_a_redirect(app, manager, shop, client):
    created = post(
        manager,
        "/admin/categories/new",
        {
            "fr-name": "Luminaires",
            "en-name": "Lighting",
            "parent_id": str(shop["furniture"]),
            "position": "2",
        },
    )
    with app.app_context():
        category = db.session.scalars(
            db.select(Category).where(
                Category.parent_id == shop["furniture"], Category.position == 2
            )
        ).one()
        category_id = category.id
        assert category.translations["fr"].slug == "luminaires"
    renamed = post(
        manager,
        f"/admin/categories/{category_id}",
        {
            "fr-name": "Lampes",
            "fr-slug": "lampes",
            "en-name": "Lighting",
            "parent_id": str(shop["furniture"]),
        },
    )

    assert created.status_code == renamed.status_code == 303
    with app.app_context():
        category = db.session.get(Category, category_id)
        assert (category.translations["fr"].name, category.translations["fr"].slug) == (
            "Lampes",
            "lampes",
        )
        assert db.session.scalars(db.select(UrlRedirect.new_path)).all() == [
            "/fr/categories/lampes"
        ]
    assert audit_actions(app) == [
        ("category.create", "category", str(category_id)),
        ("category.update", "category", str(category_id)),
    ]


def test_a_category_cannot_move_under_its_own_subcategory(app, manager, shop):
    response = post(
        manager,
        f"/admin/categories/{shop['furniture']}",
        {"fr-name": "Mobilier", "en-name": "Furniture", "parent_id": str(shop["chairs"])},
    )

    assert response.status_code == 422
    assert (
        "Une catégorie ne peut pas être placée dans elle-même ou dans une de ses sous-catégories."
        in html(response)
    )
    with app.app_context():
        assert db.session.get(Category, shop["furniture"]).parent_id is None
    assert count(app, AuditLog) == 0


def test_the_parent_choice_offers_no_descendant(app, manager, shop):
    page = html(manager.get(f"/admin/categories/{shop['furniture']}"))

    options = re.findall(
        r'<option[^>]*value="(\d*)"', page.split('id="parent_id"')[1].split("</select>")[0]
    )
    assert str(shop["chairs"]) not in options
    assert str(shop["furniture"]) not in options


def test_a_category_needs_both_names_and_only_an_empty_one_is_deleted(app, manager, shop):
    with app.app_context():
        make_product(category_id=shop["chairs"])

    unnamed = post(manager, "/admin/categories/new", {"fr-name": "Jardin", "en-name": ""})
    with_products = post(manager, f"/admin/categories/{shop['chairs']}/delete", {"confirm": "1"})

    assert unnamed.status_code == 422
    assert "Saisissez le nom dans les deux langues." in html(unnamed)
    assert 'value="Jardin"' in html(unnamed)
    assert with_products.status_code == 409
    assert count(app, Category) == 2
    assert count(app, AuditLog) == 0


def test_tags_create_rename_and_delete(app, manager, shop):
    created = post(manager, "/admin/tags/new", {"fr-name": "Nouveauté", "en-name": "New"})
    with app.app_context():
        tag_id = db.session.scalars(db.select(Tag.id).order_by(Tag.id.desc())).first()
    renamed = post(manager, f"/admin/tags/{tag_id}", {"fr-name": "Nouveautés", "en-name": "New in"})
    deleted = post(manager, f"/admin/tags/{tag_id}/delete", {"confirm": "1"})

    assert created.status_code == renamed.status_code == deleted.status_code == 303
    assert audit_actions(app) == [
        ("tag.create", "tag", str(tag_id)),
        ("tag.update", "tag", str(tag_id)),
        ("tag.delete", "tag", str(tag_id)),
    ]
    with app.app_context():
        assert db.session.get(Tag, tag_id) is None


def test_a_tag_slug_already_taken_is_refused(app, manager, shop):
    response = post(
        manager,
        "/admin/tags/new",
        {"fr-name": "Bois", "fr-slug": "bois-massif", "en-name": "Wood"},
    )

    assert response.status_code == 422
    assert "Cette adresse web est déjà utilisée par une autre page." in html(response)
    assert count(app, Tag) == 2


def test_tag_list_counts_products(app, manager, shop):
    with app.app_context():
        make_product(tag_ids=(shop["wood"],))

    page = html(manager.get("/admin/tags"))

    assert "Bois massif" in page and "Fait main" in page


# -- who may do what ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ["support", "manager", "admin"])
def test_catalogue_routes_follow_the_role_matrix(app, role):
    """Every catalogue route: support gets 403 and changes nothing; managers and admins get
    pages, and a 4xx for an empty form."""
    from tests.admin_support import _catalogue_samples
    from tests.conftest import csrf_token
    from tests.test_admin_access import _database_fingerprint

    client = app.test_client()
    login_staff(client, app, role)
    with app.app_context():
        values = _catalogue_samples()
    token = csrf_token(client, "/fr/")
    rules = [
        r
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith(("admin.products", "admin.categories", "admin.tags"))
    ]
    assert len(rules) >= 20
    allowed = role != "support"
    for rule in rules:
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})
        if "GET" in rule.methods:
            response = client.get(url)
            assert response.status_code == (200 if allowed else 403), (url, response.status_code)
        if "POST" in rule.methods:
            before = _database_fingerprint(app)
            response = client.post(url, data={"csrf_token": token})
            if allowed:
                assert 400 <= response.status_code < 500, (url, response.status_code)
            else:
                assert response.status_code == 403, url
            assert _database_fingerprint(app) == before, url


# -- more writes -------------------------------------------------------------------------


def test_back_to_draft_and_deleting_an_empty_category_are_audited(app, manager, shop):
    with app.app_context():
        product_id = make_product(sku="CH-1", status=ProductStatus.ACTIVE)

    draft = post(
        manager, f"/admin/products/{product_id}/status", {"confirm": "1", "status": "draft"}
    )
    deleted = post(manager, f"/admin/categories/{shop['chairs']}/delete", {"confirm": "1"})

    assert draft.status_code == deleted.status_code == 303
    with app.app_context():
        assert db.session.get(Product, product_id).status == ProductStatus.DRAFT
        assert db.session.get(Category, shop["chairs"]) is None
        entries = db.session.scalars(db.select(AuditLog).order_by(AuditLog.id)).all()
        assert [(e.action, e.entity_id) for e in entries] == [
            ("product.unpublish", str(product_id)),
            ("category.delete", str(shop["chairs"])),
        ]
        assert entries[1].before["fr.name"] == "Chaises" and entries[1].after is None


def test_a_new_tag_address_redirects_the_old_one(app, manager, shop, client):
    with app.app_context():
        make_product(sku="CH-1", status=ProductStatus.ACTIVE, tag_ids=(shop["wood"],))

    response = post(
        manager,
        f"/admin/tags/{shop['wood']}",
        {"fr-name": "Bois", "fr-slug": "bois", "en-name": "Solid wood"},
    )

    assert response.status_code == 303
    moved = client.get("/fr/etiquettes/bois-massif")
    assert moved.status_code == 301
    assert moved.headers["Location"].endswith("/fr/etiquettes/bois")
    assert client.get("/fr/etiquettes/bois").status_code == 200


def test_amounts_follow_the_staff_language(app, manager):
    with app.app_context():
        product_id = make_product()
    post(manager, "/admin/language", {"locale": "en", "next": "/admin/products"})

    refused = post(manager, f"/admin/products/{product_id}/variants", variant_form(price="12,50"))
    accepted = post(
        manager, f"/admin/products/{product_id}/variants", variant_form(price="1,234.50")
    )

    assert refused.status_code == 422
    assert "Please enter an amount such as 12.50." in html(refused)
    assert accepted.status_code == 303
    with app.app_context():
        assert db.session.scalars(db.select(ProductVariant.price)).all() == [123450]


def test_edit_page_query_count_does_not_grow_with_variants_and_images(app, manager, queries):
    with app.app_context():
        product_id = make_product(sku="CH-1")

    def statements() -> int:
        with queries() as seen:
            assert manager.get(f"/admin/products/{product_id}").status_code == 200
        return len(seen)

    few = statements()
    with app.app_context():
        for i in range(6):
            variant = services.create_variant(
                product_id, VariantInput(sku=f"CH-X{i}", price=100 + i)
            )
            receive(variant.id, 2, reason="Réception")
            services_image(product_id, f"vue {i}")
    many = statements()

    assert few == many


# -- search engines and sharing ----------------------------------------------------------


def image_ids(app: Flask, product_id: int) -> list[int]:
    with app.app_context():
        return [image.id for image in db.session.get(Product, product_id).images]


def test_product_seo_settings_are_saved_audited_and_reach_the_storefront(app, manager, client):
    with app.app_context():
        product_id = make_product(sku="CH-1", status=ProductStatus.ACTIVE)
        services_image(product_id, "face")
        services_image(product_id, "dos")
    first, second = image_ids(app, product_id)
    assert "noindex" not in html(client.get("/fr/produits/chaise-en-chene"))  # now cached
    form = product_form(
        **{
            "fr-title": "Chaise en chêne",
            "fr-description": "<p>Une chaise solide.</p>",
            "fr-meta_title": "Chaise en chêne massif, faite à Lyon",
            "fr-meta_description": "Une chaise en chêne massif qui dure toute une vie.",
            "fr-canonical_url": "https://atelier.example/chaise",
            "en-title": "Oak chair",
            "en-canonical_url": "/en/products/oak-chair",
            "status": "active",
            "noindex": "y",
            "og_image_id": str(second),
        }
    )

    response = post(manager, f"/admin/products/{product_id}", form)

    assert response.status_code == 303
    with app.app_context():
        product = db.session.get(Product, product_id)
        assert (product.noindex, product.og_image_id) == (True, second)
        assert product.translations["fr"].canonical_url == "https://atelier.example/chaise"
        assert product.translations["en"].canonical_url == "/en/products/oak-chair"
        entry = db.session.scalars(db.select(AuditLog)).one()
        assert entry.action == "product.update"
        assert entry.before == {
            "noindex": False,
            "og_image_id": None,
            "fr.meta_title": "",
            "fr.meta_description": "",
            "fr.canonical_url": "",
            "en.canonical_url": "",
            "en.description": "<p>A sturdy chair.</p>",
        }
        assert entry.after["noindex"] is True and entry.after["og_image_id"] == second
        assert entry.after["fr.canonical_url"] == "https://atelier.example/chaise"
    page = html(client.get("/fr/produits/chaise-en-chene"))
    assert '<meta name="robots" content="noindex, follow">' in page
    assert "<title>Chaise en chêne massif, faite à Lyon · Comptoir</title>" in page
    assert '<link rel="canonical" href="https://atelier.example/chaise">' in page
    assert '<meta property="og:image:alt" content="dos">' in page
    english = html(client.get("/en/products/oak-chair"))
    assert '<link rel="canonical" href="http://127.0.0.1:5000/en/products/oak-chair">' in english
    edit = html(manager.get(f"/admin/products/{product_id}"))
    assert f'value="{second}" id="og-image-{second}" checked' in edit
    assert f'value="{first}" id="og-image-{first}">' in edit
    assert "Masquée aux moteurs de recherche" in edit


@pytest.mark.parametrize(
    "canonical",
    [
        "javascript:alert(1)",
        "//atelier.example/chaise",
        "ftp://atelier.example/chaise",
        "atelier.example/chaise",
        "https://moi@atelier.example/chaise",
        "https:///chaise",
        "/fr/produits/chaise en chêne",
        "https://atelier.example/" + "x" * 500,
    ],
)
def test_a_canonical_that_is_not_an_address_is_refused_with_the_input_kept(app, manager, canonical):
    with app.app_context():
        product_id = make_product()
    form = product_form(**{"fr-canonical_url": canonical, "noindex": "y"})

    response = post(manager, f"/admin/products/{product_id}", form)

    body = html(response)
    assert response.status_code == 422
    assert (
        "Saisissez une adresse complète commençant par https:// (ou http://)" in body
        or "Utilisez au plus" in body
    )
    assert 'id="fr-canonical_url"' in body and 'aria-invalid="true"' in body
    assert canonical.replace("&", "&amp;")[:40] in body.replace("&#39;", "'")
    with app.app_context():
        product = db.session.get(Product, product_id)
        assert product.translations["fr"].canonical_url == ""
        assert product.noindex is False
    assert count(app, AuditLog) == 0


def test_a_shared_image_of_another_product_is_refused(app, manager):
    with app.app_context():
        product_id = make_product()
        other = make_product("Table", "Table")
        services_image(other, "table")
    (foreign,) = image_ids(app, other)

    response = post(
        manager, f"/admin/products/{product_id}", product_form(og_image_id=str(foreign))
    )

    assert response.status_code == 422
    assert "Choisissez une des options proposées." in html(response)
    with app.app_context():
        assert db.session.get(Product, product_id).og_image_id is None
    assert count(app, AuditLog) == 0


def test_live_preview_shows_noindex_and_a_canonical_elsewhere(app, manager, hx):
    with app.app_context():
        product_id = make_product()
    data = product_form(
        **{
            "locale": "fr",
            "product_id": str(product_id),
            "fr-canonical_url": "/fr/produits/banc",
            "noindex": "y",
        }
    )

    body = html(post(manager, "/admin/products/seo-preview", data, headers=hx()))
    plain_body = plain(body)

    assert "Masquée aux moteurs de recherche : cette page n’apparaîtra pas" in plain_body
    assert (
        "Les moteurs de recherche sont priés de montrer http://127.0.0.1:5000/fr/produits/banc"
        in (plain_body)
    )
    without = html(
        post(manager, "/admin/products/seo-preview", {**data, "noindex": ""}, headers=hx())
    )
    assert "Masquée aux moteurs de recherche" not in without


def category_form(shop: dict[str, int], **overrides: str) -> dict[str, str]:
    data = {
        "fr-name": "Chaises",
        "fr-slug": "chaises",
        "en-name": "Chairs",
        "en-slug": "chairs",
        "parent_id": str(shop["furniture"]),
        "position": "0",
    }
    data.update(overrides)
    return data


def test_category_seo_settings_are_saved_audited_and_shown(app, manager, client, shop):
    with app.app_context():
        chair = make_product(sku="CH-1", status=ProductStatus.ACTIVE, category_id=shop["chairs"])
        services_image(chair, "chaise")
        elsewhere = make_product("Table", "Table", category_id=shop["furniture"])
        services_image(elsewhere, "table")
    (picture_id,) = image_ids(app, chair)
    (foreign,) = image_ids(app, elsewhere)
    edit = html(manager.get(f"/admin/categories/{shop['chairs']}"))
    assert f'id="og-image-{picture_id}"' in edit and f'id="og-image-{foreign}"' not in edit
    assert 'id="seo-fr"' in edit and "Chaises · Comptoir" in edit

    refused = post(
        manager,
        f"/admin/categories/{shop['chairs']}",
        category_form(shop, og_image_id=str(foreign)),
    )
    saved = post(
        manager,
        f"/admin/categories/{shop['chairs']}",
        category_form(
            shop,
            **{
                "fr-meta_title": "Chaises en bois massif",
                "en-canonical_url": "/en/categories/furniture",
                "noindex": "y",
                "og_image_id": str(picture_id),
            },
        ),
    )

    assert refused.status_code == 422
    assert "Choisissez une des options proposées." in html(refused)
    assert saved.status_code == 303
    with app.app_context():
        category = db.session.get(Category, shop["chairs"])
        assert (category.noindex, category.og_image_id) == (True, picture_id)
        assert category.translations["fr"].meta_title == "Chaises en bois massif"
        entry = db.session.scalars(db.select(AuditLog)).one()  # the refusal left none
        assert entry.action == "category.update"
        assert entry.after == {
            "noindex": True,
            "og_image_id": picture_id,
            "fr.meta_title": "Chaises en bois massif",
            "en.canonical_url": "/en/categories/furniture",
        }
    page = html(client.get("/fr/categories/chaises"))
    assert "<title>Chaises en bois massif · Comptoir</title>" in page
    assert '<meta name="robots" content="noindex, follow">' in page
    assert '<meta property="og:image:alt" content="chaise">' in page
    english = html(client.get("/en/categories/chairs"))
    assert '<link rel="canonical" href="http://127.0.0.1:5000/en/categories/furniture">' in english


def test_a_bad_category_canonical_is_refused_with_the_input_kept(app, manager, shop):
    response = post(
        manager,
        f"/admin/categories/{shop['chairs']}",
        category_form(shop, **{"en-canonical_url": "mailto:x@example.com", "noindex": "y"}),
    )

    assert response.status_code == 422
    assert "Saisissez une adresse complète" in html(response)
    assert 'value="mailto:x@example.com"' in html(response)
    with app.app_context():
        category = db.session.get(Category, shop["chairs"])
        assert (category.noindex, category.translations["en"].canonical_url) == (False, "")
    assert count(app, AuditLog) == 0


def test_tag_meta_texts_noindex_and_shared_image_are_saved_audited_and_shown(
    app, manager, client, shop
):
    with app.app_context():
        product_id = make_product(sku="CH-1", status=ProductStatus.ACTIVE, tag_ids=(shop["wood"],))
        services_image(product_id, "chaise")
    (picture_id,) = image_ids(app, product_id)
    edit = html(manager.get(f"/admin/tags/{shop['wood']}"))
    assert f'id="og-image-{picture_id}"' in edit
    assert "Bois massif : notre sélection · Comptoir" in plain(edit)

    response = post(
        manager,
        f"/admin/tags/{shop['wood']}",
        {
            "fr-name": "Bois massif",
            "fr-meta_title": "Meubles en bois massif",
            "fr-meta_description": "Chêne, noyer et frêne massifs, faits pour durer.",
            "en-name": "Solid wood",
            "noindex": "y",
            "og_image_id": str(picture_id),
        },
    )

    assert response.status_code == 303
    with app.app_context():
        tag = db.session.get(Tag, shop["wood"])
        assert (tag.noindex, tag.og_image_id) == (True, picture_id)
        entry = db.session.scalars(db.select(AuditLog)).one()
        assert (entry.action, entry.before["noindex"], entry.after["noindex"]) == (
            "tag.update",
            False,
            True,
        )
        assert entry.after["fr.meta_title"] == "Meubles en bois massif"
    page = html(client.get("/fr/etiquettes/bois-massif"))
    assert "<title>Meubles en bois massif · Comptoir</title>" in page
    assert (
        '<meta name="description" content="Chêne, noyer et frêne massifs, faits pour durer.">'
        in page
    )
    assert '<meta name="robots" content="noindex, follow">' in page
    assert '<meta property="og:image:alt" content="chaise">' in page


def test_tag_and_category_previews_follow_the_typed_text(app, manager, shop, hx):
    tag = post(
        manager,
        "/admin/tags/seo-preview",
        {
            "locale": "en",
            "item_id": str(shop["wood"]),
            "en-name": "Solid wood",
            "en-meta_title": "Solid wood furniture",
            "noindex": "y",
        },
        headers=hx(),
    )
    category = post(
        manager,
        "/admin/categories/seo-preview",
        {
            "locale": "fr",
            "item_id": str(shop["chairs"]),
            "fr-name": "Chaises",
            "fr-meta_description": "x" * 170,
        },
        headers=hx(),
    )
    unknown = post(manager, "/admin/tags/seo-preview", {"locale": "de"}, headers=hx())

    assert tag.status_code == category.status_code == 200
    assert html(tag).lstrip().startswith('<div id="seo-en"')
    assert "Solid wood furniture · Comptoir" in html(tag)
    assert "http://127.0.0.1:5000/en/tags/solid-wood" in html(tag)
    assert "Hidden from search engines" not in html(tag)  # the staff member works in French
    assert "Masquée aux moteurs de recherche" in html(tag)
    assert "Description\u00a0: 170 / 160 caractères" in html(category)
    assert "http://127.0.0.1:5000/fr/categories/chaises" in html(category)
    assert "Masquée" not in html(category)
    assert unknown.status_code == 400
