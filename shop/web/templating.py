"""What every template can use: languages, alternates, money and dates per locale."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, current_app, g, url_for
from flask_babel import format_currency, get_locale
from sqlalchemy.exc import SQLAlchemyError

from shop import i18n, page_cache
from shop.catalogue import pricing, queries
from shop.catalogue.images import fallback_url, srcset
from shop.extensions import db
from shop.urls import public_url
from shop.web import assets, compression, security
from shop.web.order_status import order_status_label


def money(minor_units: int, currency: str | None = None) -> str:
    """12,50 € in French, €12.50 in English; money is always integer minor units."""
    currency = currency or current_app.config["SHOP_CURRENCY"]
    return format_currency(minor_units / 100, currency)


def listing_url(links: dict[str, Any], page: int = 1, reset: bool = False) -> str:
    """A listing page keeping its filters (``reset``: the bare listing, for the filter form)."""
    query = {} if reset else {**links["query"], "page": page if page > 1 else None}
    return url_for(links["endpoint"], **links["values"], **query)


def nav_categories() -> list[list[str]]:
    """The header's category links, cached with the catalogue version. Error pages use this
    too, so a database that cannot answer gives an empty menu rather than a second error."""
    lang = g.get("lang") or str(get_locale() or "fr")
    try:
        return page_cache.cached(("nav", lang), lambda: {"items": queries.top_categories(lang)})[
            "items"
        ]
    except SQLAlchemyError:
        db.session.rollback()
        return []


def htmx_config() -> str:
    return json.dumps(
        {
            "includeIndicatorStyles": False,
            "allowEval": False,
            "allowScriptTags": False,
            "historyCacheSize": 0,
            "responseHandling": [
                {"code": "204", "swap": False},
                {"code": "[23]..", "swap": True},
                {"code": "(400|403|404|409|422|429)", "swap": True, "error": False},
                {"code": "[45]..", "swap": True, "error": True},
            ],
        },
        separators=(",", ":"),
    )


def init_app(app: Flask) -> None:
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.globals.update(
        public_url=public_url,
        alternate_urls=i18n.alternate_urls,
        hreflang_links=i18n.hreflang_links,
        language_links=i18n.language_links,
        absolute_url=i18n.absolute,
        LANG_NAMES=i18n.LANG_NAMES,
        LOCALES=i18n.LOCALES,
        htmx_config=htmx_config,
        listing_url=listing_url,
        nav_categories=nav_categories,
        image_src=fallback_url,
        image_srcset=srcset,
        order_status_label=order_status_label,
        price_reduction=pricing.reduction,
        static_url=assets.static_url,
        # the session-less token for visitors without a session (shop.web.security)
        csrf_token=security.form_token,
    )
    app.jinja_env.filters["money"] = money
    assets.init_app(app)
    compression.init_app(app)

    @app.context_processor
    def session_less_csrf_token() -> dict[str, Any]:
        # over Flask-WTF's context processor, registered before this one
        return {"csrf_token": security.form_token}

    @app.context_processor
    def current_language() -> dict[str, Any]:
        return {"lang": g.get("lang") or str(get_locale() or "fr")}
