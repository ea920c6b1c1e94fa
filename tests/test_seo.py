"""Sitemaps, robots.txt and ``flask shop seo-check`` over a catalogue built by the services."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from shop.catalogue import services
from shop.catalogue.models import Category, Product, ProductStatus, Tag
from shop.catalogue.services import Text, VariantInput
from shop.clock import utcnow
from shop.extensions import db
from shop.seo import check
from shop.seo.check import (
    ALTERNATES,
    CANONICAL,
    DESCRIPTION,
    DUPLICATE_TITLE,
    HREFLANG,
    JSON_LD,
    NOINDEX,
    Problem,
    parse_page,
)
from shop.seo.sitemaps import Entry, render_urlset
from tests import catalogue_factory

BASE = "http://127.0.0.1:5000"
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9", "xhtml": "http://www.w3.org/1999/xhtml"}


# -- a small catalogue -------------------------------------------------------------------


def build_catalogue(products: int) -> dict:
    """Furniture > Chairs holds ``products`` active chairs tagged 'Bois massif'; Kitchen is
    empty; Garden and the 'Fait main' tag only have a draft."""
    furniture = catalogue_factory.category("Mobilier", "Furniture")
    chairs = catalogue_factory.category("Chaises", "Chairs", parent_id=furniture.id)
    catalogue_factory.category("Cuisine", "Kitchen")
    garden = catalogue_factory.category("Jardin", "Garden")
    wood = catalogue_factory.tag("Bois massif", "Solid wood")
    handmade = catalogue_factory.tag("Fait main", "Handmade")
    catalogue_factory.tag("Nouveauté", "New")
    made = [add_chair(i, chairs.id, wood.id) for i in range(products)]
    draft = catalogue_factory.product(
        {"fr": Text(title="Banc secret"), "en": Text(title="Secret bench")},
        variants=[VariantInput(sku="SKU-DRAFT", price=999)],
        category_id=garden.id,
        tag_ids=(handmade.id,),
    )
    return {"products": made, "draft": draft.id}


def add_chair(i: int, category_id: int, tag_id: int) -> int:
    product = catalogue_factory.product(
        {
            "fr": Text(
                title=f"Chaise en chêne {i}", description=f"<p>Une chaise solide, n° {i}.</p>"
            ),
            "en": Text(title=f"Oak chair {i}", description=f"<p>A sturdy chair, number {i}.</p>"),
        },
        status=ProductStatus.ACTIVE,
        variants=[VariantInput(sku=f"CHAIR-{i}", price=4000 + i, track_inventory=False)],
        category_id=category_id,
        tag_ids=(tag_id,),
    )
    return product.id


@pytest.fixture
def catalogue(app):
    with app.app_context():
        return build_catalogue(3)


def xml_of(response) -> ET.Element:
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    return ET.fromstring(response.data)


def urls_in(root: ET.Element) -> dict[str, dict]:
    """loc -> {"lastmod": ..., "alternates": {hreflang: href}}"""
    return {
        url.findtext("sm:loc", namespaces=NS): {
            "lastmod": url.findtext("sm:lastmod", namespaces=NS),
            "alternates": {
                link.get("hreflang"): link.get("href")
                for link in url.findall("xhtml:link", NS)
                if link.get("rel") == "alternate"
            },
        }
        for url in root.findall("sm:url", NS)
    }


def index_locs(client) -> list[str]:
    root = xml_of(client.get("/sitemap.xml"))
    assert root.tag == f"{{{NS['sm']}}}sitemapindex"
    return [s.findtext("sm:loc", namespaces=NS) for s in root.findall("sm:sitemap", NS)]


def all_listed(client) -> dict[str, dict]:
    listed = {}
    for loc in index_locs(client):
        listed.update(urls_in(xml_of(client.get(loc.removeprefix(BASE)))))
    return listed


# -- sitemaps ----------------------------------------------------------------------------


def test_index_lists_one_child_sitemap_per_kind_with_lastmod(client, catalogue):
    root = xml_of(client.get("/sitemap.xml"))

    children = root.findall("sm:sitemap", NS)
    assert [c.findtext("sm:loc", namespaces=NS) for c in children] == [
        f"{BASE}/sitemaps/pages-1.xml",
        f"{BASE}/sitemaps/categories-1.xml",
        f"{BASE}/sitemaps/tags-1.xml",
        f"{BASE}/sitemaps/products-1.xml",
    ]
    for child in children:
        assert datetime.fromisoformat(child.findtext("sm:lastmod", namespaces=NS)).tzinfo


def test_child_sitemaps_are_valid_xml_with_the_sitemap_and_xhtml_namespaces(client, catalogue):
    for loc in index_locs(client):
        response = client.get(loc.removeprefix(BASE))
        root = xml_of(response)
        text = response.get_data(as_text=True)
        assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
        assert root.tag == f"{{{NS['sm']}}}urlset"
        assert f'xmlns="{NS["sm"]}"' in text and f'xmlns:xhtml="{NS["xhtml"]}"' in text
        assert root.findall("sm:url", NS)


def test_sitemaps_list_every_public_page_in_both_languages(client, app, catalogue):
    with app.app_context():
        slugs = {
            locale: [
                db.session.get(Product, pid).translations[locale].slug
                for pid in catalogue["products"]
            ]
            for locale in ("fr", "en")
        }

    listed = all_listed(client)

    assert set(listed) == {
        f"{BASE}/fr/",
        f"{BASE}/en/",
        f"{BASE}/fr/contact",
        f"{BASE}/en/contact",
        f"{BASE}/fr/categories/mobilier",
        f"{BASE}/en/categories/furniture",
        f"{BASE}/fr/categories/chaises",
        f"{BASE}/en/categories/chairs",
        f"{BASE}/fr/etiquettes/bois-massif",
        f"{BASE}/en/tags/solid-wood",
        *(f"{BASE}/fr/produits/{slug}" for slug in slugs["fr"]),
        *(f"{BASE}/en/products/{slug}" for slug in slugs["en"]),
    }
    french = [url for url in listed if url.startswith(f"{BASE}/fr/")]
    english = [url for url in listed if url.startswith(f"{BASE}/en/")]
    assert len(french) == len(english) == 5 + 3


def test_drafts_and_categories_or_tags_without_active_products_are_absent(client, catalogue):
    text = "".join(
        client.get(loc.removeprefix(BASE)).get_data(as_text=True) for loc in index_locs(client)
    )
    for absent in (
        "banc-secret",
        "secret-bench",
        "jardin",
        "garden",
        "cuisine",
        "kitchen",
        "fait-main",
        "handmade",
        "nouveaute",
        "/new",
    ):
        assert absent not in text


def test_alternates_are_the_page_hreflang_set_and_reciprocal(client, catalogue):
    listed = all_listed(client)

    for loc, url in listed.items():
        alternates = url["alternates"]
        assert set(alternates) == {"fr", "en", "x-default"}
        own = "fr" if loc.startswith(f"{BASE}/fr/") else "en"
        assert alternates[own] == loc
        twin = listed[alternates["en" if own == "fr" else "fr"]]
        assert twin["alternates"] == alternates
        home = loc in (f"{BASE}/fr/", f"{BASE}/en/")
        assert alternates["x-default"] == (f"{BASE}/" if home else alternates["fr"])


def test_lastmod_is_the_rows_last_change_in_w3c_format(client, app, catalogue):
    product_id = catalogue["products"][0]
    with app.app_context():
        product = db.session.get(Product, product_id)
        url = f"{BASE}/en/products/{product.translations['en'].slug}"
        expected = product.updated_at.astimezone(UTC).isoformat(timespec="seconds")

    listed = all_listed(client)

    assert listed[url]["lastmod"] == expected
    assert expected.endswith("+00:00")


def test_child_sitemaps_paginate_on_the_configured_page_size(client, app, catalogue):
    app.config["SITEMAP_PAGE_SIZE"] = 2  # URLs per file: one page in its two languages
    try:
        locs = index_locs(client)
        product_files = [loc for loc in locs if "/sitemaps/products-" in loc]
        sizes = [len(urls_in(xml_of(client.get(loc.removeprefix(BASE))))) for loc in locs]
        listed = all_listed(client)
        beyond = client.get("/sitemaps/products-4.xml")
    finally:
        del app.config["SITEMAP_PAGE_SIZE"]

    assert product_files == [f"{BASE}/sitemaps/products-{n}.xml" for n in (1, 2, 3)]
    assert [loc.rsplit("/", 1)[1] for loc in locs] == [
        "pages-1.xml",
        "categories-1.xml",
        "categories-2.xml",
        "tags-1.xml",
        "products-1.xml",
        "products-2.xml",
        "products-3.xml",
    ]
    # The fixed pages (home and contact) are one file whatever the size: 2 pages × 2 languages.
    assert sizes == [4] + [2] * 6
    assert len(listed) == 16
    assert beyond.status_code == 404
    assert len(index_locs(client)) == 4  # back to one file per kind


@pytest.mark.parametrize(
    "path",
    [
        "/sitemaps/products-2.xml",
        "/sitemaps/products-0.xml",
        "/sitemaps/pages-2.xml",
        "/sitemaps/orders-1.xml",
    ],
)
def test_unknown_sitemap_files_answer_404(client, catalogue, path):
    assert client.get(path).status_code == 404


def test_empty_shop_still_has_an_index_and_its_home_pages(client):
    assert index_locs(client) == [f"{BASE}/sitemaps/pages-1.xml"]
    listed = all_listed(client)
    assert set(listed) == {f"{BASE}/fr/", f"{BASE}/en/", f"{BASE}/fr/contact", f"{BASE}/en/contact"}
    assert listed[f"{BASE}/fr/"]["lastmod"] is None
    assert listed[f"{BASE}/fr/contact"]["lastmod"] is None


@contextmanager
def counting_queries(app):
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


SITEMAP_FILES = [
    "/sitemap.xml",
    "/sitemaps/pages-1.xml",
    "/sitemaps/categories-1.xml",
    "/sitemaps/tags-1.xml",
    "/sitemaps/products-1.xml",
]


def queries_per_file(app, client) -> dict[str, int]:
    counts = {}
    for path in SITEMAP_FILES:
        with counting_queries(app) as statements:
            assert client.get(path).status_code == 200
        counts[path] = len(statements)
    return counts


def test_one_query_per_sitemap_file_whatever_the_catalogue_size(app, client):
    with app.app_context():
        found = build_catalogue(3)
    client.get("/sitemap.xml")  # warm up the connection pool
    with_three = queries_per_file(app, client)
    with app.app_context():
        first = db.session.get(Product, found["products"][0])
        chairs, tag = first.category_id, first.tags[0].id
        for i in range(3, 12):
            add_chair(i, chairs, tag)
    assert len(all_listed(client)) == 2 * (2 + 2 + 1 + 12)

    with_twelve = queries_per_file(app, client)

    assert with_three == with_twelve == dict.fromkeys(SITEMAP_FILES, 1)


def test_robots_txt_disallows_private_pages_and_names_the_index(client):
    response = client.get("/robots.txt")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert response.get_data(as_text=True) == (
        "User-agent: *\n"
        "Disallow: /fr/panier\n"
        "Disallow: /en/cart\n"
        "Disallow: /fr/commande\n"
        "Disallow: /en/checkout\n"
        "Disallow: /fr/compte/\n"
        "Disallow: /en/account/\n"
        "Disallow: /fr/recherche\n"
        "Disallow: /en/search\n"
        "Disallow: /admin/\n"
        "\n"
        f"Sitemap: {BASE}/sitemap.xml\n"
    )


def test_urlset_escapes_what_it_writes():
    entry = Entry(
        {
            "fr": "https://shop.example/fr/produits/a&b<c>",
            "en": 'https://shop.example/en/products/"q"',
            "x-default": "https://shop.example/fr/produits/a&b<c>",
        },
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )

    root = ET.fromstring("".join(render_urlset([entry])))

    assert urls_in(root) == {
        "https://shop.example/fr/produits/a&b<c>": {
            "lastmod": "2026-01-02T03:04:05+00:00",
            "alternates": entry.alternates,
        },
        'https://shop.example/en/products/"q"': {
            "lastmod": "2026-01-02T03:04:05+00:00",
            "alternates": entry.alternates,
        },
    }


# -- seo-check detectors on synthetic pages ----------------------------------------------

FR = f"{BASE}/fr/produits/chaise"
EN = f"{BASE}/en/products/chair"
GOOD_ALTERNATES = {"fr": FR, "en": EN, "x-default": FR}
PRODUCT = {
    "@context": "https://schema.org",
    "@type": "Product",
    "name": "Chaise",
    "sku": "CH-1",
    "offers": {
        "@type": "Offer",
        "price": "40.00",
        "priceCurrency": "EUR",
        "availability": "https://schema.org/InStock",
    },
}
CRUMBS = {
    "@context": "https://schema.org",
    "@type": "BreadcrumbList",
    "itemListElement": [
        {"@type": "ListItem", "position": 1, "name": "Accueil", "item": f"{BASE}/fr/"},
        {"@type": "ListItem", "position": 2, "name": "Chaise", "item": FR},
    ],
}
WEBSITE = {
    "@context": "https://schema.org",
    "@type": "WebSite",
    "name": "Comptoir",
    "potentialAction": {
        "@type": "SearchAction",
        "target": {
            "@type": "EntryPoint",
            "urlTemplate": f"{BASE}/fr/recherche?q={{search_term_string}}",
        },
        "query-input": "required name=search_term_string",
    },
}


def html_page(
    *,
    title: str | None = "Chaise · Comptoir",
    description: str | None = "Une chaise.",
    canonical: str | None = FR,
    alternates: dict[str, str] | None = None,
    json_ld: list | None = None,
    robots: str | None = None,
) -> str:
    alternates = GOOD_ALTERNATES if alternates is None else alternates
    head = []
    if title is not None:
        head.append(f"<title>{title}</title>")
    if description is not None:
        head.append(f'<meta name="description" content="{description}">')
    if robots:
        head.append(f'<meta name="robots" content="{robots}">')
    if canonical:
        head.append(f'<link rel="canonical" href="{canonical}">')
    head += [f'<link rel="alternate" hreflang="{c}" href="{u}">' for c, u in alternates.items()]
    for block in [PRODUCT, CRUMBS, WEBSITE] if json_ld is None else json_ld:
        text = block if isinstance(block, str) else json.dumps(block)
        head.append(f'<script type="application/ld+json">{text}</script>')
    icon = "<svg><title>icon</title></svg>"
    return f"<!doctype html><html><head>{''.join(head)}</head><body>{icon}</body></html>"


def test_a_good_page_has_no_problem():
    page = parse_page(html_page())

    assert page.title == "Chaise · Comptoir"
    assert page.alternates == GOOD_ALTERNATES
    assert check.check_canonical(FR, page) == []
    assert check.check_title(FR, page) == []
    assert check.check_description(FR, page) == []
    assert check.check_json_ld(FR, page) == []
    assert check.check_noindex(FR, page) == []
    assert check.check_sitemap_alternates(FR, GOOD_ALTERNATES, page.alternates) == []
    assert check.check_hreflang(FR, page.alternates, {EN: GOOD_ALTERNATES}) == []


@pytest.mark.parametrize(
    ("canonical", "detail"),
    [
        (EN, f"canonical is {EN}, not the page itself"),
        ("/fr/produits/chaise", "canonical is /fr/produits/chaise, not the page itself"),
        (None, "no <link rel=canonical>"),
    ],
)
def test_wrong_or_missing_canonical_is_reported(canonical, detail):
    page = parse_page(html_page(canonical=canonical))

    assert check.check_canonical(FR, page) == [Problem(CANONICAL, FR, detail)]


def test_missing_hreflang_is_reported():
    page = parse_page(html_page(alternates={"fr": FR, "x-default": FR}))

    assert check.check_hreflang(FR, page.alternates, {}) == [
        Problem(HREFLANG, FR, "no hreflang=en alternate")
    ]


def test_non_reciprocal_hreflang_is_reported():
    other = f"{BASE}/fr/produits/autre-chaise"
    english_twin = {"fr": other, "en": EN, "x-default": other}

    problems = check.check_hreflang(FR, GOOD_ALTERNATES, {EN: english_twin})

    assert problems == [
        Problem(
            HREFLANG,
            FR,
            f"not reciprocal: its hreflang=en page {EN} has hreflang=fr {other}",
        )
    ]


def test_hreflang_not_naming_the_page_itself_is_reported():
    alternates = {"fr": f"{BASE}/fr/produits/autre", "en": EN, "x-default": FR}

    assert Problem(
        HREFLANG, FR, f"hreflang=fr is {BASE}/fr/produits/autre, not the page itself"
    ) in check.check_hreflang(FR, alternates, {})


def test_twins_with_different_x_default_are_reported():
    twin = {"fr": FR, "en": EN, "x-default": EN}

    assert check.check_hreflang(FR, GOOD_ALTERNATES, {EN: twin}) == [
        Problem(HREFLANG, FR, f"hreflang set differs from its twin {EN}'s")
    ]


def test_duplicate_titles_are_reported_for_each_page():
    titles = {FR: "Chaise · Comptoir", EN: "Chaise · Comptoir", f"{BASE}/fr/": "Accueil"}

    assert check.check_duplicate_titles(titles) == [
        Problem(DUPLICATE_TITLE, FR, f"title 'Chaise · Comptoir' also on {EN}"),
        Problem(DUPLICATE_TITLE, EN, f"title 'Chaise · Comptoir' also on {FR}"),
    ]


def test_translations_of_one_page_may_share_its_title():
    titles = {FR: "Tables · Comptoir", EN: "Tables · Comptoir", f"{BASE}/fr/x": "Tables · Comptoir"}
    hreflangs = {FR: GOOD_ALTERNATES, EN: GOOD_ALTERNATES}

    assert check.check_duplicate_titles(titles, hreflangs) == [
        Problem(DUPLICATE_TITLE, FR, f"title 'Tables · Comptoir' also on {BASE}/fr/x"),
        Problem(DUPLICATE_TITLE, EN, f"title 'Tables · Comptoir' also on {BASE}/fr/x"),
        Problem(DUPLICATE_TITLE, f"{BASE}/fr/x", f"title 'Tables · Comptoir' also on {FR}, {EN}"),
    ]


@pytest.mark.parametrize(
    ("description", "detail"),
    [
        (None, "no <meta name=description>"),
        ("", "empty meta description"),
        ("   ", "empty meta description"),
    ],
)
def test_missing_or_empty_description_is_reported(description, detail):
    page = parse_page(html_page(description=description))

    assert check.check_description(FR, page) == [Problem(DESCRIPTION, FR, detail)]


def test_missing_title_is_reported():
    page = parse_page(html_page(title=None))

    assert page.title is None  # the <title> inside the SVG icon does not count
    assert check.check_title(FR, page) == [Problem(check.TITLE, FR, "missing or empty <title>")]


def without(data: dict, *keys: str) -> dict:
    return {k: v for k, v in data.items() if k not in keys}


@pytest.mark.parametrize(
    ("block", "detail"),
    [
        ('{"@context": "https://schema.org", "@type": "Product",', "block 1: not JSON"),
        (without(PRODUCT, "@context"), "block 1: no @context"),
        (without(PRODUCT, "@type"), "block 1: no @type"),
        (without(PRODUCT, "name"), "block 1: Product without name"),
        (without(PRODUCT, "offers"), "block 1: Product without offers"),
        ({**PRODUCT, "offers": []}, "block 1: Product without offers"),
        (
            without(PRODUCT, "sku"),
            "block 1: Product offer 1 without sku (and no sku on the Product)",
        ),
        (
            {**PRODUCT, "offers": without(PRODUCT["offers"], "price")},
            "block 1: Product offer 1 without price",
        ),
        (
            {**PRODUCT, "offers": [PRODUCT["offers"], without(PRODUCT["offers"], "priceCurrency")]},
            "block 1: Product offer 2 without priceCurrency",
        ),
        (
            {**PRODUCT, "offers": without(PRODUCT["offers"], "availability")},
            "block 1: Product offer 1 without availability",
        ),
        (
            {
                **CRUMBS,
                "itemListElement": [
                    CRUMBS["itemListElement"][0],
                    {**CRUMBS["itemListElement"][1], "position": 3},
                ],
            },
            "block 1: BreadcrumbList positions [1, 3] are not 1..2 in order",
        ),
        (
            {
                **CRUMBS,
                "itemListElement": [
                    without(CRUMBS["itemListElement"][0], "name"),
                    CRUMBS["itemListElement"][1],
                ],
            },
            "block 1: BreadcrumbList item 1 without name",
        ),
        (
            {
                **CRUMBS,
                "itemListElement": [
                    without(CRUMBS["itemListElement"][0], "item"),
                    CRUMBS["itemListElement"][1],
                ],
            },
            "block 1: BreadcrumbList item 1 without item",
        ),
        ({**CRUMBS, "itemListElement": []}, "block 1: BreadcrumbList without itemListElement"),
        (
            {
                **WEBSITE,
                "potentialAction": {
                    **WEBSITE["potentialAction"],
                    "target": f"{BASE}/fr/recherche?q=",
                },
            },
            "block 1: WebSite SearchAction target without {search_term_string}",
        ),
        (without(WEBSITE, "potentialAction"), "block 1: WebSite without a SearchAction"),
    ],
)
def test_invalid_json_ld_is_reported(block, detail):
    page = parse_page(html_page(json_ld=[block]))

    problems = check.check_json_ld(FR, page)

    assert len(problems) == 1
    assert problems[0].kind == JSON_LD and problems[0].url == FR
    assert problems[0].detail.startswith(detail)


def test_json_ld_graph_and_aggregate_offer_are_understood():
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            without(CRUMBS, "@context"),
            {
                **without(PRODUCT, "@context"),
                "offers": {
                    "@type": "AggregateOffer",
                    "lowPrice": "10.00",
                    "priceCurrency": "EUR",
                    "availability": "https://schema.org/InStock",
                },
            },
        ],
    }
    last_crumb_without_item = {
        **CRUMBS,
        "itemListElement": [
            CRUMBS["itemListElement"][0],
            without(CRUMBS["itemListElement"][1], "item"),
        ],
    }

    page = parse_page(html_page(json_ld=[graph, last_crumb_without_item]))

    assert check.check_json_ld(FR, page) == []


def test_sitemap_and_page_alternate_mismatch_is_reported():
    page = parse_page(html_page())
    listed = {"fr": FR, "en": f"{BASE}/en/products/old-chair", "x-default": FR}

    assert check.check_sitemap_alternates(FR, listed, page.alternates) == [
        Problem(ALTERNATES, FR, f"hreflang=en: sitemap {BASE}/en/products/old-chair, page {EN}")
    ]
    assert check.check_sitemap_alternates(
        FR, without(GOOD_ALTERNATES, "x-default"), page.alternates
    ) == [Problem(ALTERNATES, FR, f"hreflang=x-default: sitemap (none), page {FR}")]


@pytest.mark.parametrize(
    ("robots", "header"), [("noindex, follow", ""), (None, "noindex"), ("none", "")]
)
def test_a_listed_page_marked_noindex_is_reported(robots, header):
    page = parse_page(html_page(robots=robots))

    assert check.check_noindex(FR, page, header) == [
        Problem(NOINDEX, FR, "listed in a sitemap but marked noindex")
    ]


def test_sitemap_parsing_and_lastmod_format():
    xml = (
        f'<urlset xmlns="{NS["sm"]}" xmlns:xhtml="{NS["xhtml"]}">'
        f"<url><loc>{FR}</loc><lastmod>2026-01-02T03:04:05+00:00</lastmod>"
        f'<xhtml:link rel="alternate" hreflang="en" href="{EN}"/></url>'
        f"<url><loc>{EN}</loc><lastmod>yesterday</lastmod></url>"
        "</urlset>"
    )

    urls = check.parse_urlset(xml)

    assert urls == [
        check.SitemapUrl(FR, "2026-01-02T03:04:05+00:00", {"en": EN}),
        check.SitemapUrl(EN, "yesterday", {}),
    ]
    assert check.check_sitemap_urls("s.xml", urls) == [
        Problem(check.SITEMAP, EN, "lastmod 'yesterday' is not W3C")
    ]
    assert check.check_listed_twins({u.loc: u for u in urls}) == []
    with pytest.raises(check.SitemapError, match="root element"):
        check.parse_urlset('<urlset xmlns="http://example.com/other"/>')
    with pytest.raises(check.SitemapError, match="not XML"):
        check.parse_sitemap_index("<sitemapindex")


def test_public_links_keep_only_indexable_pages_of_the_shop():
    hrefs = [
        "/fr/produits/chaise#avis",
        "../categories/chaises?page=2",
        "/fr/panier",
        "/en/account/login",
        "/fr/recherche?q=chaise",
        "https://elsewhere.example/fr/",
        "mailto:boutique@comptoir.example.com",
        "/static/css/shop.css",
        "/",
    ]

    links = list(check.public_links(FR, hrefs, BASE))

    assert links == [FR, f"{BASE}/fr/categories/chaises?page=2"]


# -- seo-check on the real shop ----------------------------------------------------------


def test_seo_check_finds_nothing_wrong_with_the_storefront(app):
    with app.app_context():
        build_catalogue(3)

    report = check.run(app)

    assert [str(problem) for problem in report.problems] == []
    assert report.sitemaps == 5
    assert report.pages == 2 * (2 + 2 + 1 + 3)  # home and contact, 2 categories, a tag, 3 products
    assert report.links > 0 and report.links_not_checked == 0


def test_seo_check_passes_on_the_storefront_test_catalogue(app):
    """Subcategories, several sizes, a discount, stock and a draft (tests/catalogue_factory)."""
    with app.app_context():
        catalogue_factory.build(12)

    report = check.run(app)

    assert [str(problem) for problem in report.problems] == []
    assert report.pages == 2 * (2 + 3 + 2 + 12)


def test_seo_check_command_exits_non_zero_and_names_each_problem(app):
    with app.app_context():
        found = build_catalogue(2)
        # Published without a variant (nothing to offer in its Product JSON-LD), and its
        # description links to a page that does not exist.
        # The back office publishes a product only with a variant: this one is published as
        # an import or a change in the database would leave it.
        bare = catalogue_factory.product(
            {
                "fr": Text(
                    title="Tabouret",
                    description='<p>Voir <a href="/fr/produits/disparu">le banc</a>.</p>',
                ),
                "en": Text(title="Stool", description="<p>A stool.</p>"),
            },
            category_id=db.session.get(Product, found["products"][0]).category_id,
        )
        bare.status, bare.published_at = ProductStatus.ACTIVE, utcnow()
        services.commit_changes()
        url = f"{BASE}/fr/produits/{bare.translations['fr'].slug}"

    result = app.test_cli_runner().invoke(args=["shop", "seo-check"])

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("seo-check: 5 sitemaps, 16 pages, ")
    assert lines[1] == "seo-check: 3 problems (status 1, json-ld 2)"
    assert sorted(lines[2:]) == [
        f"[json-ld] {BASE}/en/products/stool: block 1: Product without offers",
        f"[json-ld] {url}: block 1: Product without offers",
        f"[status] {BASE}/fr/produits/disparu: answers 404 (from a link on {url})",
    ]


def test_seo_check_stops_checking_links_at_the_limit(app):
    with app.app_context():
        build_catalogue(2)

    everything = check.run(app)
    capped = check.run(app, max_links=1)

    assert everything.links_not_checked == 0
    assert capped.links_not_checked > 0
    assert capped.links + capped.links_not_checked == everything.links
    assert "more links not checked (limit)" in capped.lines()[1]


def test_seo_check_command_passes_on_a_sound_shop(app):
    with app.app_context():
        build_catalogue(1)

    result = app.test_cli_runner().invoke(args=["shop", "seo-check"])

    assert result.exit_code == 0, result.stdout
    assert result.stdout.splitlines()[-1] == "seo-check: no problems"


# -- the merchant's SEO settings: noindex, canonical override, meta texts, shared image -----


def _set(app, model, item_id: int, **values) -> None:
    """A setting saved as its edit page saves it ("fr.meta_title": one language's text)."""
    edit = {
        Product: catalogue_factory.edit_product,
        Category: catalogue_factory.edit_category,
        Tag: catalogue_factory.edit_tag,
    }[model]
    texts: dict[str, dict[str, object]] = {}
    fields = {}
    for name, value in values.items():
        if "." in name:
            locale, field = name.split(".")
            texts.setdefault(locale, {})[field] = value
        else:
            fields[name] = value
    with app.app_context():
        edit(item_id, texts=texts, **fields)


def _slugs(app, product_id: int) -> dict[str, str]:
    with app.app_context():
        product = db.session.get(Product, product_id)
        return {locale: text.slug for locale, text in product.translations.items()}


def _chairs_and_wood(app, product_id: int) -> tuple[int, int]:
    with app.app_context():
        product = db.session.get(Product, product_id)
        return product.category_id, product.tags[0].id


ROBOTS_NOINDEX = '<meta name="robots" content="noindex, follow">'


def test_noindex_items_leave_the_sitemaps_and_their_pages_say_so(app, client, catalogue):
    hidden = catalogue["products"][0]
    chairs, wood = _chairs_and_wood(app, hidden)
    _set(app, Product, hidden, noindex=True)
    _set(app, Category, chairs, noindex=True)
    _set(app, Tag, wood, noindex=True)
    slugs = _slugs(app, hidden)

    listed = all_listed(client)

    gone = {
        f"{BASE}/fr/produits/{slugs['fr']}",
        f"{BASE}/en/products/{slugs['en']}",
        f"{BASE}/fr/categories/chaises",
        f"{BASE}/en/categories/chairs",
        f"{BASE}/fr/etiquettes/bois-massif",
        f"{BASE}/en/tags/solid-wood",
    }
    assert not gone & set(listed)
    assert f"{BASE}/fr/categories/mobilier" in listed  # its parent still lists the chairs
    assert len(listed) == 2 * (2 + 1 + 2)  # home, contact, Mobilier, two chairs
    for url in gone:
        response = client.get(url.removeprefix(BASE))
        page = response.get_data(as_text=True)
        assert response.status_code == 200, url  # shoppers still see it
        assert page.count(ROBOTS_NOINDEX) == 1, url
        assert len(parse_page(page).alternates) == 3, url  # fr, en, x-default stay
    shown = client.get(f"/fr/produits/{_slugs(app, catalogue['products'][1])['fr']}")
    assert "noindex" not in shown.get_data(as_text=True)
    # Nothing left in the sitemaps trips the check.
    assert [str(problem) for problem in check.run(app).problems] == []


def test_a_canonical_pointing_elsewhere_is_on_the_page_and_out_of_the_sitemap(
    app, client, catalogue
):
    moved, own = catalogue["products"][0], catalogue["products"][1]
    _set(app, Product, moved, **{"fr.canonical_url": "https://atelier.example/chaise"})
    own_slugs = _slugs(app, own)
    _set(app, Product, own, **{"fr.canonical_url": f"/fr/produits/{own_slugs['fr']}"})
    chairs, _wood = _chairs_and_wood(app, moved)
    _set(app, Category, chairs, **{"en.canonical_url": "/en/categories/furniture"})
    moved_slugs = _slugs(app, moved)

    listed = all_listed(client)
    page = client.get(f"/fr/produits/{moved_slugs['fr']}").get_data(as_text=True)
    english = client.get(f"/en/products/{moved_slugs['en']}").get_data(as_text=True)
    category = parse_page(client.get("/en/categories/chairs").get_data(as_text=True))

    # Only canonical URLs in the sitemaps, both languages of a page together.
    assert f"{BASE}/fr/produits/{moved_slugs['fr']}" not in listed
    assert f"{BASE}/en/products/{moved_slugs['en']}" not in listed
    assert f"{BASE}/fr/produits/{own_slugs['fr']}" in listed  # its override is itself
    assert f"{BASE}/en/categories/chairs" not in listed
    assert f"{BASE}/fr/categories/chaises" not in listed
    assert parse_page(page).canonicals == ["https://atelier.example/chaise"]
    assert '<meta property="og:url" content="https://atelier.example/chaise">' in page
    product_ld = json.loads(parse_page(page).json_ld[0])
    assert product_ld["url"] == "https://atelier.example/chaise"
    assert product_ld["offers"]["url"] == f"{BASE}/fr/produits/{moved_slugs['fr']}"
    assert parse_page(english).canonicals == [f"{BASE}/en/products/{moved_slugs['en']}"]
    assert category.canonicals == [f"{BASE}/en/categories/furniture"]  # a path, made absolute
    assert [str(problem) for problem in check.run(app).problems] == []


def _picture() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (400, 300), (120, 90, 60)).save(out, "PNG")
    return out.getvalue()


def test_pages_show_the_meta_texts_and_the_chosen_shared_image(app, client, catalogue):
    import io

    from shop.catalogue import images

    chair = catalogue["products"][0]
    chairs, wood = _chairs_and_wood(app, chair)
    with app.app_context():
        first, second = (
            images.add_product_image(chair, io.BytesIO(_picture()), alt_fr=alt, alt_en=alt).id
            for alt in ("Vue de face", "Vue de dos")
        )
    _set(app, Product, chair, og_image_id=second)
    _set(app, Category, chairs, og_image_id=first)
    _set(
        app,
        Tag,
        wood,
        **{
            "fr.meta_title": "Mobilier en bois massif",
            "fr.meta_description": "Des meubles en chêne et en noyer, faits pour durer.",
        },
    )
    slugs = _slugs(app, chair)

    product = client.get(f"/fr/produits/{slugs['fr']}").get_data(as_text=True)
    category = client.get("/fr/categories/chaises").get_data(as_text=True)
    tag = client.get("/fr/etiquettes/bois-massif").get_data(as_text=True)
    english_tag = parse_page(client.get("/en/tags/solid-wood").get_data(as_text=True))

    shared = re.search(r'<meta property="og:image" content="([^"]+)">', product).group(1)
    assert shared.startswith(f"{BASE}/media/products/{chair}/")
    assert f'<meta name="twitter:image" content="{shared}">' in product
    assert '<meta name="twitter:card" content="summary_large_image">' in product
    assert '<meta property="og:image:alt" content="Vue de dos">' in product
    assert json.loads(parse_page(product).json_ld[0])["image"][0] == shared
    assert '<meta property="og:image:alt" content="Vue de face">' in category
    assert "og:image" not in tag  # none chosen: none shown
    page = parse_page(tag)
    assert page.title == "Mobilier en bois massif · Comptoir"
    assert page.description == "Des meubles en chêne et en noyer, faits pour durer."
    assert english_tag.title == "Solid wood: our selection · Comptoir"  # its own default


def _inject(monkeypatch, app, sitemap: str, entry: Entry) -> None:
    """Serve ``sitemap`` with ``entry`` added, as a stale cache or a broken build would:
    a WSGI middleware around the app, the way a proxy would rewrite it."""
    from werkzeug.wrappers import Response

    extra = "".join(render_urlset([entry])).split(">\n", 2)[2].removesuffix("</urlset>\n")
    inner = app.wsgi_app

    def injecting(environ, start_response):
        if environ["PATH_INFO"] != sitemap:
            return inner(environ, start_response)
        response = Response.from_app(inner, environ)
        body = response.get_data(as_text=True).replace("</urlset>", extra + "</urlset>")
        response.set_data(body)
        return response(environ, start_response)

    monkeypatch.setattr(app, "wsgi_app", injecting)


def _product_entry(slugs: dict[str, str]) -> Entry:
    fr, en = f"{BASE}/fr/produits/{slugs['fr']}", f"{BASE}/en/products/{slugs['en']}"
    return Entry({"fr": fr, "en": en, "x-default": fr}, datetime(2026, 1, 1, tzinfo=UTC))


def test_seo_check_fails_on_a_noindex_page_injected_into_a_sitemap(app, catalogue, monkeypatch):
    hidden = catalogue["products"][0]
    _set(app, Product, hidden, noindex=True)
    slugs = _slugs(app, hidden)
    _inject(monkeypatch, app, "/sitemaps/products-1.xml", _product_entry(slugs))

    result = app.test_cli_runner().invoke(args=["shop", "seo-check"])

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[1] == "seo-check: 2 problems (noindex 2)"
    assert sorted(lines[2:]) == [
        f"[{NOINDEX}] {BASE}/en/products/{slugs['en']}: listed in a sitemap but marked noindex",
        f"[{NOINDEX}] {BASE}/fr/produits/{slugs['fr']}: listed in a sitemap but marked noindex",
    ]


def test_seo_check_fails_on_a_sitemap_url_canonical_to_another_page(app, catalogue, monkeypatch):
    moved = catalogue["products"][0]
    _set(app, Product, moved, **{"en.canonical_url": "https://atelier.example/chair"})
    slugs = _slugs(app, moved)
    _inject(monkeypatch, app, "/sitemaps/products-1.xml", _product_entry(slugs))

    report = check.run(app)

    assert [str(problem) for problem in report.problems] == [
        f"[{CANONICAL}] {BASE}/en/products/{slugs['en']}: canonical is "
        "https://atelier.example/chair, not the page itself"
    ]


# -- JSON-LD text --------------------------------------------------------------------------


def _strings(value):
    """Every string in a JSON value, however deep."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_json_ld_and_meta_texts_carry_characters_not_html_entities(app, client):
    with app.app_context():
        catalogue_factory.product(
            {
                "fr": Text(
                    title="Chaise & tabouret",
                    description="<p>Assise&nbsp;: solide &amp; légère, «&nbsp;belle&nbsp;»"
                    "&nbsp;!</p><p>Deux <strong>ans</strong> de garantie.</p>",
                ),
                "en": Text(title="Chair & stool", description="<p>Sturdy &amp; light.</p>"),
            },
            status=ProductStatus.ACTIVE,
            variants=[VariantInput(sku="ENT-1", price=4000, track_inventory=False)],
        )
    html = client.get("/fr/produits/chaise-tabouret").get_data(as_text=True)
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    data = [json.loads(block) for block in blocks]
    strings = [s for block in data for s in _strings(block)]
    assert strings and not [s for s in strings if re.search(r"&#?\w+;", s)]
    product = next(block for block in data if block["@type"] == "Product")
    assert product["name"] == "Chaise & tabouret"
    assert product["description"] == (
        "Assise\u00a0: solide & légère, «\u00a0belle\u00a0»\u00a0! Deux ans de garantie."
    )
    # The meta description is escaped once, by the template, like any attribute.
    assert (
        '<meta name="description" content="Assise\u00a0: solide &amp; légère, '
        '«\u00a0belle\u00a0»\u00a0! Deux ans de garantie.">' in html
    )
    assert "&amp;nbsp;" not in html and "&amp;amp;" not in html
