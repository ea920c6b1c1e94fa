"""/sitemap.xml, its child sitemaps and /robots.txt: public, cacheable for an hour."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response, abort, current_app, url_for

from shop.i18n import absolute
from shop.seo import sitemaps
from shop.web.seo import bp

MAX_AGE = 3600
XML = "application/xml; charset=utf-8"


def _page_size() -> int:
    return int(current_app.config.get("SITEMAP_PAGE_SIZE", sitemaps.PAGE_SIZE))


def _public(body: str | Iterable[str], content_type: str) -> Response:
    response = Response(body, content_type=content_type)
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE
    return response


@bp.get("/sitemap.xml")
def sitemap_index() -> Response:
    children = sitemaps.sitemap_index(
        base_url=current_app.config["PUBLIC_BASE_URL"], page_size=_page_size()
    )
    locs = [
        (absolute(url_for("seo.sitemap", kind=child.kind, number=child.number)), child.lastmod)
        for child in children
    ]
    return _public(sitemaps.render_index(locs), XML)


@bp.get("/sitemaps/<any(pages, categories, tags, products):kind>-<int(min=1):number>.xml")
def sitemap(kind: str, number: int) -> Response:
    entries = sitemaps.sitemap_entries(
        kind,
        number,
        base_url=current_app.config["PUBLIC_BASE_URL"],
        page_size=_page_size(),
    )
    if not entries:
        abort(404)
    return _public(sitemaps.render_urlset(entries), XML)


@bp.get("/robots.txt")
def robots() -> Response:
    index_url = absolute(url_for("seo.sitemap_index"))
    return _public(sitemaps.robots_txt(index_url), "text/plain; charset=utf-8")
