"""Languages: every public URL starts with /fr/ or /en/ and has localized path words.

A localized route is registered once per language with ``defaults={"lang": ...}``;
Werkzeug only builds a rule whose defaults match the values given, so
``url_for(endpoint, lang="en")`` picks the English path and the current
language is filled in when ``lang`` is left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Flask, current_app, g, request, url_for
from flask_login import current_user

from shop.config import DEFAULT_LOCALE, LOCALES

LANG_COOKIE = "lang"
LANG_NAMES = {"fr": "Français", "en": "English"}


def localized_route(
    bp: Blueprint, paths: Mapping[str, str], **options: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``view`` at ``/<lang><path>`` for each language, under one endpoint."""
    if set(paths) != set(LOCALES):
        raise ValueError(f"a localized route needs a path for each of {LOCALES}")

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        for lang in LOCALES:
            path = paths[lang]
            bp.add_url_rule(f"/{lang}{path}", view_func=view, defaults={"lang": lang}, **options)
        return view

    return register


def lang_from_path(path: str) -> str | None:
    first = path.lstrip("/").split("/", 1)[0]
    return first if first in LOCALES else None


def negotiate_lang() -> str:
    """Cookie first, then Accept-Language, then French."""
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LOCALES:
        return cookie
    return request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE


def select_locale() -> str:
    if lang := g.get("lang"):
        return lang
    if request:
        if lang := lang_from_path(request.path):
            return lang
        if current_user and current_user.is_authenticated and current_user.locale in LOCALES:
            return current_user.locale
        return negotiate_lang()
    return DEFAULT_LOCALE


def _pop_lang(endpoint: str | None, values: dict[str, Any] | None) -> None:
    if values and "lang" in values:
        g.lang = values.pop("lang")


def _default_lang(endpoint: str, values: dict[str, Any]) -> None:
    if "lang" in values:
        return
    if current_app.url_map.is_endpoint_expecting(endpoint, "lang"):
        values["lang"] = g.get("lang") or select_locale()


def query_args() -> dict[str, list[str]]:
    """The request's query string as ``url_for`` keywords, less the names ``url_for`` or the
    route would take as their own (``lang``, the view's arguments, ``_external`` and the
    other ``_`` options): a visitor's ``?lang=x`` must not break the page's links."""
    reserved = {"lang", *(request.view_args or {})}
    return {
        key: values
        for key, values in request.args.to_dict(flat=False).items()
        if key not in reserved and not key.startswith("_")
    }


def alternate_urls(_external: bool = False) -> dict[str, str]:
    """The current page in each language (views with localized slugs set ``g.alternates``)."""
    if alternates := g.get("alternates"):
        return alternates
    endpoint = request.endpoint
    if not endpoint or not current_app.url_map.is_endpoint_expecting(endpoint, "lang"):
        return {}
    args = dict(request.view_args or {})
    return {
        lang: url_for(endpoint, **{**query_args(), **args}, lang=lang, _external=_external)
        for lang in LOCALES
    }


def hreflang_links() -> dict[str, str]:
    """fr, en and x-default, absolute: x-default is ``/`` (which negotiates) for the home
    page and the French page elsewhere. The sitemaps publish exactly this set."""
    alternates = alternate_urls()
    if not alternates:
        return {}
    links = {lang: absolute(url) for lang, url in alternates.items()}
    home = request.endpoint == "storefront.home"
    own = links.get(DEFAULT_LOCALE) or next(iter(links.values()))  # a page in one language
    links["x-default"] = absolute("/") if home else own
    return links


def language_links() -> dict[str, str]:
    """The language switcher: the current page in each language, or that language's home
    page where the page has no version in it."""
    alternates = alternate_urls()
    if not alternates:
        return {}
    return {lang: alternates.get(lang) or url_for("storefront.home", lang=lang) for lang in LOCALES}


def absolute(url: str) -> str:
    return current_app.config["PUBLIC_BASE_URL"] + url if url.startswith("/") else url


def remember_lang(response: Any) -> Any:
    """Remember the language of the page in a cookie when it tells something: a visitor
    without the cookie reading the language their browser asks for gets none (the
    storefront's cached pages set no cookie for them)."""
    lang = g.get("lang")
    cookie = request.cookies.get(LANG_COOKIE)
    if not lang or cookie == lang:
        return response
    if cookie is None and lang == (request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE):
        return response
    response.set_cookie(
        LANG_COOKIE,
        lang,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
    )
    return response


def init_app(app: Flask) -> None:
    app.url_value_preprocessor(_pop_lang)
    app.url_defaults(_default_lang)
    app.after_request(remember_lang)
