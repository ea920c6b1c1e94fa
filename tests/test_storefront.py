"""Storefront pages on PostgreSQL: content, filters, bad input, redirects, search, SEO, caching."""

from __future__ import annotations

import json
import re

import pytest

from shop.catalogue import errors
from shop.catalogue.models import Product
from shop.catalogue.services import Text, VariantInput
from shop.catalogue.text import slugify
from shop.extensions import db
from tests import catalogue_factory

BASE = "http://127.0.0.1:5000"


@pytest.fixture
def catalogue(app):
    with app.app_context():
        return catalogue_factory.build(30)


@pytest.fixture
def cold_cache(app):
    """Render from the database on every request (the fragment cache off)."""
    app.config["FRAGMENT_CACHE"] = False
    yield
    app.config["FRAGMENT_CACHE"] = True


def html_of(response) -> str:
    return response.get_data(as_text=True)


def product_slugs(html: str, lang: str = "fr") -> list[str]:
    word = "produits" if lang == "fr" else "products"
    return re.findall(rf'class="card-link" href="/{lang}/{word}/([^"]+)"', html)


# -- pages and content ---------------------------------------------------------------------


def test_home_shows_featured_categories_and_products(client, catalogue):
    html = html_of(client.get("/fr/"))
    assert 'href="/fr/categories/mobilier"' in html
    assert 'href="/fr/categories/cuisine"' in html
    assert len(product_slugs(html)) == 4  # the four featured products


def test_category_lists_its_tree_24_per_page_and_hides_drafts(client, catalogue):
    first = client.get("/fr/categories/mobilier")
    html = html_of(first)
    assert first.status_code == 200
    assert "30 produits" in html
    assert len(product_slugs(html)) == 24
    assert "Brouillon secret" not in html
    second = html_of(client.get("/fr/categories/mobilier?page=2"))
    assert len(product_slugs(second)) == 6
    assert not set(product_slugs(html)) & set(product_slugs(second))
    chairs = html_of(client.get("/fr/categories/chaises"))
    assert "15 produits" in chairs
    assert 'href="/fr/categories/mobilier"' in chairs  # breadcrumb to the parent


def test_product_page_in_both_languages_with_omnibus_price(client, catalogue):
    fr = html_of(client.get("/fr/produits/table-en-chene-n-1"))
    en = html_of(client.get("/en/products/oak-table-no-1"))
    # Struck from the prior price (the 30-day lowest before the cut), not the compare-at
    # price of 60 €: tests/test_omnibus.py has the rules.
    assert "45,00\u00a0€" in fr and "60,00\u00a0€" not in fr
    assert "Prix le plus bas des 30 jours précédant la réduction\u00a0: 55,00\u00a0€" in fr
    assert "€45.00" in en and "Lowest price in the 30 days before this reduction: €55.00" in en
    assert "SKU-1" in fr


def test_drafts_and_unknown_pages_are_translated_404s(client, catalogue):
    for path, text in [
        ("/fr/produits/brouillon-secret", "Page introuvable"),
        ("/en/products/secret-draft", "Page not found"),
        ("/fr/categories/inconnue", "Page introuvable"),
        ("/en/tags/unknown", "Page not found"),
        ("/en/products/nope", "Page not found"),
    ]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert text in html_of(response)


@pytest.mark.parametrize(
    "query", ["page=abc", "page=0", "page=-1", "page=99999", "page=3", "page=1e3"]
)
def test_bad_page_numbers_are_404(client, catalogue, query):
    assert client.get(f"/fr/categories/mobilier?{query}").status_code == 404


def test_inverted_price_range_is_a_clean_empty_state(client, catalogue):
    response = client.get("/fr/categories/mobilier?min=50&max=10")
    html = html_of(response)
    assert response.status_code == 200
    assert "Le prix minimum est supérieur au prix maximum" in html
    assert product_slugs(html) == []


def test_unreadable_price_is_flagged_and_ignored(client, catalogue):
    response = client.get("/en/categories/furniture?min=abc")
    html = html_of(response)
    assert response.status_code == 200
    assert "Please enter a price such as 12 or 12,50." in html
    assert len(product_slugs(html, "en")) == 24


# -- filters and sorting ------------------------------------------------------------------


def test_filters_tag_price_stock_and_sort(client, catalogue):
    tagged = html_of(client.get("/fr/categories/mobilier?tag=bois-massif"))
    assert "15 produits" in tagged
    priced = html_of(client.get("/fr/categories/mobilier?min=20&max=25,50"))
    # 10 € + i € for i in 10..15 (product 1 is 45 €; product 0 starts at 10 €)
    assert "6 produits" in priced
    in_stock = html_of(client.get("/fr/categories/mobilier?stock=1"))
    assert "25 produits" in in_stock  # every fifth product has no stock, except product 0
    cheap_first = product_slugs(html_of(client.get("/fr/categories/mobilier?sort=price_asc")))
    assert cheap_first[:3] == ["chaise-en-chene-n-0", "chaise-en-chene-n-2", "table-en-chene-n-3"]
    dear_first = product_slugs(html_of(client.get("/fr/categories/mobilier?sort=price_desc")))
    assert dear_first[0] == "table-en-chene-n-1"  # 45 €


def test_the_drawer_button_counts_the_filters_in_force(client, catalogue, hx):
    plain = html_of(client.get("/fr/categories/mobilier?sort=price_asc"))  # a sort: no filter
    assert '<span id="active-filters"></span>' in plain
    url = "/fr/categories/mobilier?tag=bois-massif&min=20&stock=1&sort=price_asc"
    narrowed = html_of(client.get(url))
    assert '<span class="badge badge-accent" aria-hidden="true">3</span>' in narrowed
    assert "(3\u00a0filtres appliqués)" in narrowed or "(3 filtres appliqués)" in narrowed
    # An HTMX change of the form swaps the results and, out of band, the count.
    fragment = html_of(
        client.get(url.replace("min=20&", ""), headers=hx(**{"HX-Target": "results"}))
    )
    assert fragment.lstrip().startswith('<section id="results"')
    assert '<span id="active-filters" hx-swap-oob="true">' in fragment
    assert 'aria-hidden="true">2</span>' in fragment
    english = html_of(client.get("/en/categories/furniture?stock=1"))
    assert "(1 filter applied)" in english


def test_filtered_pages_are_noindex_and_canonical_to_the_listing(client, catalogue):
    html = html_of(client.get("/fr/categories/mobilier?tag=bois-massif&sort=price_asc"))
    assert '<meta name="robots" content="noindex, follow">' in html
    assert f'<link rel="canonical" href="{BASE}/fr/categories/mobilier">' in html
    page_two = html_of(client.get("/fr/categories/mobilier?page=2"))
    assert "noindex" not in page_two
    assert f'<link rel="canonical" href="{BASE}/fr/categories/mobilier?page=2">' in page_two
    assert f'hreflang="en" href="{BASE}/en/categories/furniture?page=2"' in page_two


# -- HTMX ------------------------------------------------------------------------------------


def test_htmx_results_swap_only_the_results(client, catalogue, hx):
    fragment = client.get("/fr/categories/mobilier?page=2", headers=hx(**{"HX-Target": "results"}))
    html = html_of(fragment)
    assert html.lstrip().startswith('<section id="results"')
    assert "<html" not in html
    assert "HX-Request" in fragment.headers["Vary"]
    full = html_of(client.get("/fr/categories/mobilier?page=2"))
    assert full.startswith("<!doctype html>")
    restore = client.get(
        "/fr/categories/mobilier?page=2",
        headers=hx(**{"HX-Target": "results", "HX-History-Restore-Request": "true"}),
    )
    assert html_of(restore).startswith("<!doctype html>")


def test_variant_switch_returns_the_buybox(app, client, catalogue, hx):
    from shop.catalogue.models import ProductVariant

    with app.app_context():
        large = db.session.execute(
            db.select(ProductVariant.id).where(ProductVariant.sku == "SKU-0-1")
        ).scalar_one()
    url = f"/fr/produits/chaise-en-chene-n-0?variant={large}"
    response = client.get(url, headers=hx(**{"HX-Target": "buybox"}))
    html = html_of(response)
    assert html.lstrip().startswith('<section id="buybox"')
    assert "12,00\u00a0€" in html and "SKU-0-1" in html
    without_js = html_of(client.get(url))
    assert f'value="{large}" checked' in without_js and "SKU-0-1" in without_js
    # An unknown variant falls back to the default one rather than failing.
    fallback = html_of(client.get("/fr/produits/chaise-en-chene-n-0?variant=99999999"))
    assert "SKU-0-0" in fallback


# -- slugs and redirects ---------------------------------------------------------------------


def test_slug_change_answers_301_and_collapses_chains(app, client, catalogue):
    product_id = catalogue["products"][2]
    with app.app_context():
        catalogue_factory.edit_product(
            product_id, texts={"fr": {"title": "Chaise en chêne n° 2", "slug": "chaise-atelier"}}
        )
    moved = client.get("/fr/produits/chaise-en-chene-n-2?variant=3")
    assert moved.status_code == 301
    assert moved.headers["Location"] == "/fr/produits/chaise-atelier?variant=3"
    assert client.get("/fr/produits/chaise-atelier").status_code == 200
    with app.app_context():
        catalogue_factory.edit_product(
            product_id, texts={"fr": {"title": "Chaise en chêne n° 2", "slug": "chaise-d-atelier"}}
        )
    assert client.get("/fr/produits/chaise-en-chene-n-2").headers["Location"] == (
        "/fr/produits/chaise-d-atelier"
    )
    assert client.get("/fr/produits/chaise-atelier").headers["Location"] == (
        "/fr/produits/chaise-d-atelier"
    )
    # The English slug did not move.
    assert client.get("/en/products/oak-chair-no-2").status_code == 200


def test_category_rename_redirects(app, client, catalogue):
    with app.app_context():
        catalogue_factory.edit_category(
            catalogue["chairs"], texts={"fr": {"name": "Sièges", "slug": "sieges"}}
        )
    response = client.get("/fr/categories/chaises?page=1")
    assert response.status_code == 301
    assert response.headers["Location"] == "/fr/categories/sieges?page=1"


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Chaise en chêne « Élégante »", "chaise-en-chene-elegante"),
        ("Coup de cœur", "coup-de-coeur"),
        ("ŒUVRES D’ART", "oeuvres-d-art"),
        ("Carnet d’artiste", "carnet-d-artiste"),  # the typographic apostrophe separates
        ("Tasse n°3", "tasse-n-3"),
        ("Ægir & Æsir", "aegir-aesir"),
        ("Straße", "strasse"),
        ("GROẞE Tasse", "grosse-tasse"),
        ("Søren Ørsted", "soren-orsted"),
        ("Łódź, Wrocław", "lodz-wroclaw"),
        ("Đakovo, Đorđe", "dakovo-dorde"),
        ("Þórsmörk", "thorsmork"),
        ("Eðda", "edda"),
        ("Ĳsselmeer", "ijsselmeer"),
        ("ﬁne ﬂeur", "fine-fleur"),
        ("Naïve façade", "naive-facade"),
        ("İstanbul, ılık", "istanbul-ilik"),
        ("Ħamrun", "hamrun"),
        ("Hoŋ", "hong"),
        ("Chaise n°\u00a03", "chaise-n-3"),
        ("« »", "produit"),
    ],
)
def test_slugs_spell_out_the_letters_accents_do_not_cover(name, slug):
    assert slugify(name) == slug


def test_a_slug_made_before_the_transliteration_stays_until_retyped_then_answers_301(
    app, client, catalogue
):
    """A shop whose « Coup de cœur » tag got « coup-de-cur » keeps it when the tag is saved
    again; typing the new slug leaves a 301 behind."""
    with app.app_context():
        tag_id = catalogue_factory.tag("Coup de cœur", "Staff pick").id
        catalogue_factory.edit_tag(tag_id, texts={"fr": {"slug": "coup-de-cur"}})
        catalogue_factory.edit_product(catalogue["products"][2], tag_ids=(tag_id,))
        catalogue_factory.edit_tag(tag_id)  # saved again: the slug stays
    assert client.get("/fr/etiquettes/coup-de-cur").status_code == 200
    with app.app_context():
        catalogue_factory.edit_tag(tag_id, texts={"fr": {"slug": "Coup de cœur"}})
    moved = client.get("/fr/etiquettes/coup-de-cur")
    assert moved.status_code == 301
    assert moved.headers["Location"] == "/fr/etiquettes/coup-de-coeur"
    assert client.get("/fr/etiquettes/coup-de-coeur").status_code == 200


def test_slug_taken_is_refused(app, catalogue):
    with app.app_context(), pytest.raises(errors.SlugTaken):
        catalogue_factory.edit_product(
            catalogue["products"][3], texts={"fr": {"title": "x", "slug": "chaise-en-chene-n-2"}}
        )


# -- search ----------------------------------------------------------------------------------


@pytest.fixture
def cups(app, catalogue):
    with app.app_context():
        product = catalogue_factory.product(
            {
                "fr": Text(
                    title="Tasses élégantes en grès",
                    description="<p>Quatre tasses émaillées, faites à Limoges.</p>",
                ),
                "en": Text(
                    title="Elegant stoneware cups",
                    description="<p>Four glazed cups, made in Limoges.</p>",
                ),
            },
            status="active",
            variants=[VariantInput(sku="CUPS-1", price=3200, track_inventory=False)],
        )
        return product.id


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("/fr/recherche?q=elegante", True),
        ("/fr/recherche?q=ÉLÉGANTES", True),
        ("/fr/recherche?q=Elégant", True),
        ("/fr/recherche?q=gres", True),
        ("/fr/recherche?q=tass", True),  # search-as-you-type: prefixes match
        ("/fr/recherche?q=limoges", True),  # in the description
        ("/en/search?q=elegant", True),
        ("/en/search?q=cup", True),
        ("/en/search?q=élégantes", False),  # French words are not English ones
        ("/fr/recherche?q=porcelaine", False),
    ],
)
def test_search_is_accent_insensitive_and_stemmed(client, cups, path, found):
    html = html_of(client.get(path))
    hit = "tasses-elegantes-en-gres" in html or "elegant-stoneware-cups" in html
    assert hit is found


def test_title_matches_rank_above_description_matches(app, client, cups):
    with app.app_context():
        catalogue_factory.product(
            {
                "fr": Text(title="Plateau en noyer", description="<p>Pour vos tasses.</p>"),
                "en": Text(title="Walnut tray", description="<p>For your cups.</p>"),
            },
            status="active",
            variants=[VariantInput(sku="TRAY-1", price=4000, track_inventory=False)],
        )
    slugs = product_slugs(html_of(client.get("/fr/recherche?q=tasses")))
    assert slugs == ["tasses-elegantes-en-gres", "plateau-en-noyer"]


@pytest.mark.parametrize(
    "q",
    [
        "<script>alert(1)</script>",
        "'; DROP TABLE products; --",
        "a & b | !c:* <-> (d",
        "%_\\",
        "ééé" * 100,
    ],
)
def test_hostile_search_queries_are_harmless(app, client, cups, q):
    response = client.get("/fr/recherche", query_string={"q": q})
    html = html_of(response)
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in html
    with app.app_context():
        assert db.session.execute(db.select(db.func.count(Product.id))).scalar() >= 32


def test_search_pages_are_noindex(client, cups):
    html = html_of(client.get("/fr/recherche?q=tasse"))
    assert '<meta name="robots" content="noindex, follow">' in html


# -- SEO ---------------------------------------------------------------------------------------


def _links(html: str) -> dict[str, str]:
    return dict(re.findall(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)">', html))


def _jsonld(html: str) -> list[dict]:
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    return [json.loads(b) for b in blocks]


def test_product_page_seo(client, catalogue):
    fr = html_of(client.get("/fr/produits/table-en-chene-n-1"))
    assert "<title>Table en chêne n° 1 · Comptoir</title>" in fr.replace("\u00a0", " ")
    assert f'<link rel="canonical" href="{BASE}/fr/produits/table-en-chene-n-1">' in fr
    links = _links(fr)
    assert links == {
        "fr": f"{BASE}/fr/produits/table-en-chene-n-1",
        "en": f"{BASE}/en/products/oak-table-no-1",
        "x-default": f"{BASE}/fr/produits/table-en-chene-n-1",
    }
    en = html_of(client.get("/en/products/oak-table-no-1"))
    assert _links(en) == links  # reciprocal
    assert '<meta property="og:type" content="product">' in fr
    assert '<meta name="description" content="Une table solide, numéro 1.">' in fr
    product, crumbs = _jsonld(fr)
    assert product["@type"] == "Product"
    assert product["offers"] == {
        "@type": "Offer",
        "sku": "SKU-1",
        "price": "45.00",
        "priceCurrency": "EUR",
        "availability": "https://schema.org/InStock",
        "url": f"{BASE}/fr/produits/table-en-chene-n-1",
        "itemCondition": "https://schema.org/NewCondition",
    }
    assert [i["position"] for i in crumbs["itemListElement"]] == [1, 2, 3, 4]
    assert crumbs["itemListElement"][-1]["item"] == f"{BASE}/fr/produits/table-en-chene-n-1"


def test_home_has_organization_and_website_search_action(client, catalogue):
    html = html_of(client.get("/en/"))
    organization, website = _jsonld(html)
    assert organization["@type"] == "Organization"
    target = website["potentialAction"]["target"]["urlTemplate"]
    assert target == f"{BASE}/en/search?q={{search_term_string}}"
    assert _links(html)["x-default"] == f"{BASE}/"


def test_titles_are_unique_and_localized(client, catalogue):
    titles = set()
    for path in [
        "/fr/",
        "/en/",
        "/fr/categories/mobilier",
        "/en/categories/furniture",
        "/fr/categories/mobilier?page=2",
        "/fr/etiquettes/bois-massif",
        "/en/tags/solid-wood",
        "/fr/produits/table-en-chene-n-1",
        "/en/products/oak-table-no-1",
    ]:
        title = re.search(r"<title>(.*?)</title>", html_of(client.get(path))).group(1)
        assert title not in titles, title
        titles.add(title)


# -- performance: query counts, cache, conditional requests ----------------------------------


PAGES = [
    "/fr/",
    "/fr/categories/mobilier",
    "/en/categories/furniture?page=2&sort=price_asc",
    "/en/categories/furniture?tag=solid-wood&stock=1&min=5&max=90",
    "/fr/produits/chaise-en-chene-n-0",
    "/fr/recherche?q=chene",
    "/en/tags/solid-wood",
]


def test_pages_run_a_small_constant_number_of_queries(app, client, catalogue, queries, cold_cache):
    counts = {}
    for path in PAGES:
        with queries() as statements:
            assert client.get(path).status_code == 200
        counts[path] = len(statements)
        assert len(statements) <= 8, (path, statements)
    with app.app_context():
        catalogue_factory.add_products(catalogue["chairs"], 40)
    for path in PAGES:
        with queries() as statements:
            assert client.get(path).status_code == 200
        assert len(statements) == counts[path], path


def test_warm_pages_run_no_query(client, catalogue, queries):
    for path in PAGES:
        client.get(path)
    for path in PAGES:
        with queries() as statements:
            assert client.get(path).status_code == 200
        assert statements == [], path


def test_catalogue_change_invalidates_the_cache(app, client, catalogue):
    assert "13,00\u00a0€" in html_of(client.get("/fr/produits/table-en-chene-n-3"))
    with app.app_context():
        product = db.session.get(Product, catalogue["products"][3])
        catalogue_factory.change_price(product.variants[0].id, 1450)
    html = html_of(client.get("/fr/produits/table-en-chene-n-3"))
    assert "14,50\u00a0€" in html and "13,00\u00a0€" not in html


def test_conditional_get_answers_304_until_the_catalogue_changes(app, client, catalogue):
    first = client.get("/fr/categories/mobilier")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    again = client.get("/fr/categories/mobilier", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    with app.app_context():
        catalogue_factory.edit_category(
            catalogue["furniture"], texts={"fr": {"name": "Mobilier", "slug": "mobilier"}}
        )
        catalogue_factory.edit_product(
            catalogue["products"][4], texts={"fr": {"title": "Chaise en chêne n° 4 bis"}}
        )
    changed = client.get("/fr/categories/mobilier", headers={"If-None-Match": etag})
    assert changed.status_code == 200
