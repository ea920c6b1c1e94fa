"""Storefront pages: thin views over catalogue queries, cached per catalogue version.

Each page is built once per catalogue version into page parts (meta + rendered HTML) by a
``build_*`` function that does all the database work; views wrap that in the fragment cache,
answer conditional requests, and pick the full page or the HTMX fragment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from shop import page_cache, sql
from shop.catalogue import queries, seo
from shop.catalogue.addresses import redirect_for
from shop.catalogue.queries import ListingFilters, PageOutOfRange
from shop.config import LOCALES
from shop.i18n import absolute, localized_route, negotiate_lang, query_args
from shop.platform import hero
from shop.web import compression
from shop.web.cart.cookie import COOKIE_NAME as CART_COOKIE
from shop.web.htmx import render, wants_fragment
from shop.web.security import PUBLIC_TOKEN_PREFIX, form_token
from shop.web.storefront import bp, meta
from shop.web.storefront.params import listing_filters


@bp.get("/")
def choose_language() -> Response:
    """The x-default entry: send each visitor to their language's home page."""
    response = redirect(url_for("storefront.home", lang=negotiate_lang()), code=302)
    response.vary.update(("Accept-Language", "Cookie"))
    response.headers["Cache-Control"] = "private, no-cache"
    return response


# -- serving cached page parts ---------------------------------------------------------


# Cached HTML carries this wherever a form needs the visitor's CSRF token; it is replaced
# per request (templates: `{{ csrf_placeholder or csrf_token() }}`).
CSRF_PLACEHOLDER = "__comptoir_csrf_token__"


def _etag() -> str:
    user = current_user.get_id() if current_user.is_authenticated else "-"
    target = request.headers.get("HX-Target", "") if wants_fragment() else ""
    cart = request.cookies.get("cart", "")[-16:]  # the badge differs per cart
    key = f"{page_cache.version()}|{request.full_path}|{target}|{user}|{cart}"
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()


def serve(parts_key: tuple[Any, ...], build: Callable[[], dict[str, Any]]) -> Response:
    """Answer 304 when the browser's copy is current, else the page or its fragment.

    Anonymous visitors with nothing flashed get the whole page from the cache, with only
    their CSRF token put in; everyone else gets the cached parts inside a fresh layout.
    """
    plain_visit = (
        not current_user.is_authenticated
        and "_flashes" not in session
        and CART_COOKIE not in request.cookies  # the header shows their cart
    )
    if plain_visit and request.if_none_match and request.if_none_match.contains_weak(_etag()):
        response = Response(status=304)
    elif plain_visit and not wants_fragment():
        page = page_cache.cached((*parts_key, g.lang, "page"), lambda: _whole_page(build))
        token = form_token()
        encoding = compression.negotiate()
        if encoding and token.startswith(PUBLIC_TOKEN_PREFIX):
            # The same bytes for every visitor without a session: compressed once.
            key = (*parts_key, g.lang, page_cache.version(), token, encoding)
            body = compression.remembered(
                key,
                lambda: compression.compress(
                    page["html"].replace(CSRF_PLACEHOLDER, token).encode(), encoding
                ),
            )
            response = Response(body, mimetype="text/html")
            response.headers["Content-Encoding"] = encoding
        else:
            response = Response(page["html"].replace(CSRF_PLACEHOLDER, token), mimetype="text/html")
    else:
        parts = page_cache.cached((*parts_key, g.lang), build)
        g.alternates = _alternates(parts)
        target = parts.get("fragment_target")
        token = form_token()
        if wants_fragment() and target and request.headers.get("HX-Target") == target:
            html = parts["fragment"].replace(CSRF_PLACEHOLDER, token)
            response = Response(html, mimetype="text/html")
        else:
            main = parts["main"].replace(CSRF_PLACEHOLDER, token)
            response = render("storefront/page.html", meta=parts["meta"], main=main)
    response.set_etag(_etag(), weak=True)
    response.last_modified = datetime.fromtimestamp(page_cache.version() / 1000 or 0, UTC)
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("HX-Request")
    return response


def _alternates(parts: dict[str, Any]) -> dict[str, str]:
    """The page in each language it exists in. A product may not be translated yet: then
    no alternate for the other language (the language switcher offers its home page)."""
    return {code: parts["alternates"][code] for code in LOCALES if code in parts["alternates"]}


def _whole_page(build: Callable[[], dict[str, Any]]) -> dict[str, str]:
    parts = build()
    g.alternates = _alternates(parts)
    html = render_template(
        "storefront/page.html",
        meta=parts["meta"],
        main=parts["main"],
        csrf_placeholder=CSRF_PLACEHOLDER,
    )
    return {"html": html}


def _not_found_or_moved() -> Response:
    """An unknown slug: 301 to its new address if it moved, else the translated 404."""
    if target := redirect_for(request.path):
        query = request.query_string.decode()
        return redirect(target + (f"?{query}" if query else ""), code=301)
    raise NotFound()


def _listing_urls(endpoint: str, filters: ListingFilters, **values: Any) -> dict[str, Any]:
    """Links that keep the current filters (pagination, sort)."""
    base = {
        "tag": list(filters.tags) or None,
        "min": request.args.get("min") or None,
        "max": request.args.get("max") or None,
        "stock": "1" if filters.in_stock else None,
        "sort": filters.sort if filters.sort != "relevance" else None,
    }
    return {"endpoint": endpoint, "values": values, "query": {k: v for k, v in base.items() if v}}


def _listing_meta(
    title: str,
    description: str,
    filters: ListingFilters,
    canonical_base: str,
    *,
    canonical: str | None = None,
    noindex: bool = False,
) -> dict[str, Any]:
    """Paginated pages are canonical to themselves; filtered or sorted ones are noindex and
    canonical to the unfiltered listing. ``canonical``: the merchant's override of the
    listing's first page (filtered views follow it); ``noindex``: every page of it."""
    page = filters.page
    if page > 1:
        title = f"{title} – {meta.page_label(page)}"
        description = f"{description} ({meta.page_label(page)})"
    data: dict[str, Any] = {"title": meta.page_title(title), "description": description}
    if filters.narrowed:
        data["noindex"] = True
        data["canonical"] = canonical or canonical_base
    elif page > 1:
        data["canonical"] = f"{canonical_base}?page={page}"
    elif canonical and canonical != canonical_base:
        data["canonical"] = canonical
    if noindex:
        data["noindex"] = True
    return data


def _taxonomy_meta(
    kind: str, text: Any, description: str, filters: ListingFilters, own_url: str, noindex: bool
) -> dict[str, Any]:
    """The page meta of a category or tag listing: the merchant's meta texts, canonical
    override and noindex switch over what the page says itself."""
    title, description = meta.describe(
        kind, text.name, description, text.meta_title, text.meta_description
    )
    return _listing_meta(
        title,
        description,
        filters,
        own_url,
        canonical=_canonical(text.canonical_url, own_url),
        noindex=noindex,
    )


def _canonical(override: str, own_url: str) -> str:
    return seo.canonical_url(override, own_url, current_app.config["PUBLIC_BASE_URL"])


# -- home --------------------------------------------------------------------------------


@localized_route(bp, {"fr": "/", "en": "/"})
def home() -> Response:
    lang = g.lang

    def build() -> dict[str, Any]:
        categories, featured = queries.home(lang)
        alternates = {code: url_for("storefront.home", lang=code) for code in ("fr", "en")}
        page_meta = {
            "title": meta.page_title(_("Independent shop")),
            "description": _(
                "Furniture, tableware, textiles and stationery chosen with care, shipped "
                "from France."
            ),
            "jsonld": meta.organization_and_website(lang),
        }
        main = render_template(
            "storefront/home.html",
            hero=hero.texts(lang),
            categories=categories,
            listing=featured,
            lang=lang,
            csrf_placeholder=CSRF_PLACEHOLDER,
        )
        return {"meta": page_meta, "alternates": alternates, "main": main}

    return serve(("home",), build)


# -- category, tag and search listings -----------------------------------------------------


@localized_route(bp, {"fr": "/categories/<slug>", "en": "/categories/<slug>"})
def category(slug: str) -> Response:
    lang = g.lang
    filters, bad = listing_filters(request.args)

    def build() -> dict[str, Any]:
        view = queries.category(lang, slug)
        if view is None:
            raise NotFound()
        try:
            listing = queries.category_listing(lang, view.category.id, filters)
        except PageOutOfRange:
            raise NotFound() from None
        tags = queries.tags_for_category(lang, view.category.id)
        text = view.translations[lang]
        alternates = {
            code: url_for("storefront.category", slug=t.slug, lang=code, **query_args())
            for code, t in view.translations.items()
        }
        canonical = absolute(url_for("storefront.category", slug=text.slug, lang=lang))
        page_meta = _taxonomy_meta(
            "category", text, text.description, filters, canonical, view.category.noindex
        )
        page_meta["og_image"] = meta.og_image(view.og_image, lang)
        crumbs = [(_("Home"), absolute(url_for("storefront.home", lang=lang)))]
        crumbs += [
            (name, absolute(url_for("storefront.category", slug=s, lang=lang)))
            for name, s in view.ancestors
        ]
        crumbs.append((text.name, canonical))
        page_meta["jsonld"] = [meta.breadcrumbs(crumbs)]
        context = {
            "heading": text.name,
            "intro": text.description,
            "crumbs": crumbs,
            "children": view.children,
            "tags": tags,
            "listing": listing,
            "filters": filters,
            "bad": bad,
            "links": _listing_urls("storefront.category", filters, slug=text.slug),
        }
        return _listing_parts(page_meta, alternates, context)

    try:
        return serve(("category", slug, filters, tuple(bad)), build)
    except NotFound:
        return _not_found_or_moved()


@localized_route(bp, {"fr": "/etiquettes/<slug>", "en": "/tags/<slug>"})
def tag(slug: str) -> Response:
    lang = g.lang
    filters, bad = listing_filters(request.args)

    def build() -> dict[str, Any]:
        view = queries.tag(lang, slug)
        if view is None:
            raise NotFound()
        translations = view.translations
        text = translations[lang]
        try:
            listing = queries.tag_listing(lang, text.tag_id, filters)
        except PageOutOfRange:
            raise NotFound() from None
        alternates = {
            code: url_for("storefront.tag", slug=t.slug, lang=code, **query_args())
            for code, t in translations.items()
        }
        canonical = absolute(url_for("storefront.tag", slug=text.slug, lang=lang))
        heading = _("%(name)s: our selection", name=text.name)
        page_meta = _taxonomy_meta("tag", text, "", filters, canonical, view.tag.noindex)
        page_meta["og_image"] = meta.og_image(view.og_image, lang)
        crumbs = [
            (_("Home"), absolute(url_for("storefront.home", lang=lang))),
            (text.name, canonical),
        ]
        page_meta["jsonld"] = [meta.breadcrumbs(crumbs)]
        context = {
            "heading": heading,
            "intro": "",
            "crumbs": crumbs,
            "children": [],
            "tags": [],
            "listing": listing,
            "filters": filters,
            "bad": bad,
            "links": _listing_urls("storefront.tag", filters, slug=text.slug),
        }
        return _listing_parts(page_meta, alternates, context)

    try:
        return serve(("tag", slug, filters, tuple(bad)), build)
    except NotFound:
        return _not_found_or_moved()


@localized_route(bp, {"fr": "/recherche", "en": "/search"})
def search() -> Response:
    lang = g.lang
    q = request.args.get("q", "").strip()[:200]
    filters, bad = listing_filters(request.args)

    def build() -> dict[str, Any]:
        try:
            listing = queries.search(lang, q, filters, dialect=sql.dialect())
        except PageOutOfRange:
            raise NotFound() from None
        alternates = {
            code: url_for("storefront.search", lang=code, **query_args()) for code in ("fr", "en")
        }
        heading = _("Search results for “%(q)s”", q=q) if q else _("Search")
        page_meta = {
            "title": meta.page_title(heading),
            "description": _(
                "Search the %(shop)s catalogue.", shop=current_app.config["SHOP_NAME"]
            ),
            "noindex": True,
        }
        context = {
            "heading": heading,
            "intro": "",
            "crumbs": [],
            "children": [],
            "tags": [],
            "listing": listing,
            "filters": filters,
            "bad": bad,
            "q": q,
            "searching": True,
            "links": _listing_urls("storefront.search", filters),
        }
        context["links"]["query"]["q"] = q
        return _listing_parts(page_meta, alternates, context)

    return serve(("search", q, filters, tuple(bad)), build)


def _listing_parts(
    page_meta: dict[str, Any], alternates: dict[str, str], context: dict[str, Any]
) -> dict[str, Any]:
    main = render_template("storefront/listing.html", **context, csrf_placeholder=CSRF_PLACEHOLDER)
    fragment = render_template(
        "storefront/_results.html", **context, csrf_placeholder=CSRF_PLACEHOLDER
    ) + render_template("storefront/_active_filters.html", filters=context["filters"], oob=True)
    return {
        "meta": page_meta,
        "alternates": alternates,
        "main": main,
        "fragment": fragment,
        "fragment_target": "results",
    }


# -- product -----------------------------------------------------------------------------


@localized_route(bp, {"fr": "/produits/<slug>", "en": "/products/<slug>"})
def product(slug: str) -> Response:
    lang = g.lang
    raw_variant = request.args.get("variant", "")
    chosen = int(raw_variant) if raw_variant.isdigit() and len(raw_variant) < 10 else None

    def build() -> dict[str, Any]:
        view = queries.product(lang, slug)
        if view is None:
            raise NotFound()
        text = view.translations[lang]
        variant = next((v for v in view.variants if v.id == chosen), None)
        if variant is None and view.variants:
            variant = next(
                (v for v in view.variants if view.available[v.id] != 0), view.variants[0]
            )
        own_url = absolute(url_for("storefront.product", slug=text.slug, lang=lang))
        canonical = _canonical(text.canonical_url, own_url)
        shared = next(
            (i for i in view.images if i.id == view.product.og_image_id),
            view.images[0] if view.images else None,
        )
        alternates = {
            code: url_for(
                "storefront.product",
                slug=t.slug,
                lang=code,
                **({"variant": chosen} if chosen else {}),
            )
            for code, t in view.translations.items()
        }
        crumbs = [(_("Home"), absolute(url_for("storefront.home", lang=lang)))]
        crumbs += [
            (name, absolute(url_for("storefront.category", slug=s, lang=lang)))
            for name, s in view.crumbs
        ]
        crumbs.append((text.title, own_url))
        title, description = meta.describe(
            "product", text.title, text.description, text.meta_title, text.meta_description
        )
        page_meta = {
            "title": meta.page_title(title),
            "description": description,
            "canonical": canonical,
            "noindex": view.product.noindex,
            "og_type": "product",
            "og_image": meta.og_image(shared, lang),
            "jsonld": [
                meta.product_jsonld(view, lang, canonical, own_url=own_url, shared=shared),
                meta.breadcrumbs(crumbs),
            ],
        }
        context = {
            "view": view,
            "text": text,
            "variant": variant,
            "crumbs": crumbs,
            "left": view.available.get(variant.id) if variant else 0,
        }
        main = render_template(
            "storefront/product.html", **context, csrf_placeholder=CSRF_PLACEHOLDER
        )
        fragment = render_template(
            "storefront/_buybox.html", **context, csrf_placeholder=CSRF_PLACEHOLDER
        )
        return {
            "meta": page_meta,
            "alternates": alternates,
            "main": main,
            "fragment": fragment,
            "fragment_target": "buybox",
        }

    try:
        return serve(("product", slug, chosen), build)
    except NotFound:
        return _not_found_or_moved()
