from __future__ import annotations

from flask import redirect, url_for
from werkzeug.wrappers import Response

from shop.i18n import localized_route, negotiate_lang
from shop.web.htmx import render
from shop.web.storefront import bp


@bp.get("/")
def choose_language() -> Response:
    """The x-default entry: send each visitor to their language's home page."""
    response = redirect(url_for("storefront.home", lang=negotiate_lang()), code=302)
    response.vary.update(("Accept-Language", "Cookie"))
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@localized_route(bp, {"fr": "/", "en": "/"})
def home() -> Response:
    return render("storefront/home.html")
