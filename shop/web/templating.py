"""What every template can use: languages, alternates, money and dates per locale."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, g
from flask_babel import format_currency, get_locale

from shop import i18n


def public_url(endpoint: str, **values: Any) -> str:
    """An absolute URL on ``PUBLIC_BASE_URL``, buildable without a request (emails, jobs)."""
    base = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


def money(minor_units: int, currency: str | None = None) -> str:
    """12,50 € in French, €12.50 in English; money is always integer minor units."""
    currency = currency or current_app.config["SHOP_CURRENCY"]
    return format_currency(minor_units / 100, currency)


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
        absolute_url=i18n.absolute,
        LANG_NAMES=i18n.LANG_NAMES,
        LOCALES=i18n.LOCALES,
        htmx_config=htmx_config,
    )
    app.jinja_env.filters["money"] = money

    @app.context_processor
    def current_language() -> dict[str, Any]:
        return {"lang": g.get("lang") or str(get_locale() or "fr")}
