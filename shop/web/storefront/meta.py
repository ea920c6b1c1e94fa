"""Page metadata for search engines: titles, descriptions, canonical, Open Graph, JSON-LD."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for
from flask_babel import gettext as _

from shop.catalogue.images import fallback_url
from shop.catalogue.models import ProductImage
from shop.catalogue.queries import ProductView
from shop.catalogue.text import plain_text
from shop.i18n import absolute

SCHEMA = "https://schema.org"


def shorten(text: str, limit: int = 155) -> str:
    """Plain text (real characters, no entity: JSON-LD and meta tags escape it themselves),
    cut at a word before ``limit``."""
    text = plain_text(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:\u00a0\u202f")
    return cut + "…"


def image_url(image: ProductImage | None) -> str | None:
    return absolute(fallback_url(image)) if image else None


def breadcrumbs(items: list[tuple[str, str]]) -> dict[str, Any]:
    """BreadcrumbList from (name, absolute url) pairs, home first."""
    return {
        "@context": SCHEMA,
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": i, "name": name, "item": url}
            for i, (name, url) in enumerate(items, start=1)
        ],
    }


def organization_and_website(lang: str) -> list[dict[str, Any]]:
    base = current_app.config["PUBLIC_BASE_URL"]
    search = absolute(url_for("storefront.search", lang=lang))
    return [
        {
            "@context": SCHEMA,
            "@type": "Organization",
            "name": current_app.config["SHOP_NAME"],
            "url": base + "/",
            "logo": absolute(url_for("static", filename="favicon.svg")),
        },
        {
            "@context": SCHEMA,
            "@type": "WebSite",
            "name": current_app.config["SHOP_NAME"],
            "url": absolute(url_for("storefront.home", lang=lang)),
            "inLanguage": lang,
            "potentialAction": {
                "@type": "SearchAction",
                "target": {
                    "@type": "EntryPoint",
                    "urlTemplate": f"{search}?q={{search_term_string}}",
                },
                "query-input": "required name=search_term_string",
            },
        },
    ]


def product_jsonld(
    view: ProductView,
    lang: str,
    url: str,
    *,
    own_url: str | None = None,
    shared: ProductImage | None = None,
) -> dict[str, Any]:
    """``url`` is the canonical address (as ``<link rel=canonical>`` and ``og:url``); offers
    point at the page itself (``own_url``), where they are sold; the shared image first."""
    page = own_url or url
    text = view.translations[lang]
    currency = current_app.config["SHOP_CURRENCY"]
    offers = []
    for variant in view.variants:
        left = view.available[variant.id]
        in_stock = left is None or left > 0
        offers.append(
            {
                "@type": "Offer",
                "sku": variant.sku,
                "price": f"{variant.price / 100:.2f}",
                "priceCurrency": currency,
                "availability": f"{SCHEMA}/{'InStock' if in_stock else 'OutOfStock'}",
                "url": f"{page}?variant={variant.id}" if len(view.variants) > 1 else page,
                "itemCondition": f"{SCHEMA}/NewCondition",
            }
        )
    data: dict[str, Any] = {
        "@context": SCHEMA,
        "@type": "Product",
        "name": text.title,
        "description": shorten(text.description, 500),
        "sku": view.variants[0].sku if view.variants else str(view.product.id),
        "url": url,
        "offers": offers[0] if len(offers) == 1 else offers,
    }
    if view.variants and view.variants[0].barcode:
        data["gtin13"] = view.variants[0].barcode
    ordered = sorted(view.images, key=lambda image: image is not shared)
    images = [image_url(i) for i in ordered]
    if images:
        data["image"] = images
    return data


def describe(
    kind: str, name: str, description: str = "", meta_title: str = "", meta_description: str = ""
) -> tuple[str, str]:
    """(title before the shop's name, meta description) of a product, category or tag page
    in the current language: the merchant's meta texts, else what the page says itself.
    The admin's search-result preview uses it too, so both always agree."""
    shop = current_app.config["SHOP_NAME"]
    name = name.strip()
    if kind == "tag":
        title = _("%(name)s: our selection", name=name)
        fallback = _("Every product tagged “%(name)s” at %(shop)s.", name=name, shop=shop)
    elif kind == "category":
        title = name
        fallback = _("%(name)s: our selection at %(shop)s.", name=name, shop=shop)
    else:
        title = name
        fallback = _("%(title)s, at %(shop)s.", title=name, shop=shop)
    title = meta_title.strip() or title
    text = meta_description.strip() or shorten(description) or (fallback if name else "")
    return title, text


def og_image(image: ProductImage | None, lang: str) -> dict[str, Any] | None:
    """What ``og:image`` and ``twitter:image`` say about a picture (absolute URL, alt)."""
    if image is None:
        return None
    return {"url": image_url(image), "alt": image.alt(lang)}


def page_title(*parts: str) -> str:
    return " · ".join([*parts, current_app.config["SHOP_NAME"]])


def page_label(page: int) -> str:
    return _("page %(number)s", number=page)
