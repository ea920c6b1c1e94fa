"""Sitemaps: an index of child sitemaps by kind, each listing every public page in both
languages with its hreflang set, and robots.txt naming the index.

A child sitemap costs one query whatever its size: each kind is one ``SELECT`` of the few
columns a URL needs (id, last change, one slug per locale), paged on the id. The index costs
one query too: the same selects, numbered and grouped per file, in a ``UNION ALL``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from flask import current_app
from sqlalchemy import ColumnElement, Select, case, func, literal
from sqlalchemy.orm import aliased

from shop.catalogue.addresses import PATHS
from shop.catalogue.models import (
    Category,
    CategoryTranslation,
    Product,
    ProductStatus,
    ProductTranslation,
    Tag,
    TagTranslation,
    product_tags,
)
from shop.config import DEFAULT_LOCALE, LOCALES
from shop.extensions import db
from shop.platform.models import PlatformConfig
from shop.seo import PRIVATE_PATHS

PAGE_SIZE = 50_000  # URLs per child sitemap: the protocol's limit
KINDS = ("pages", "categories", "tags", "products")
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
XHTML_NS = "http://www.w3.org/1999/xhtml"
X_DEFAULT = "x-default"


@dataclass(frozen=True)
class ChildSitemap:
    kind: str
    number: int
    lastmod: datetime | None


@dataclass(frozen=True)
class Entry:
    """One page in every language: ``alternates`` is its hreflang set (each locale and
    x-default, absolute URLs), and the sitemap lists the URL of each locale."""

    alternates: dict[str, str]
    lastmod: datetime | None


def entries_per_file(page_size: int) -> int:
    """Both languages of a page stay in the same file."""
    return max(1, page_size // len(LOCALES))


# -- the rows of each kind ---------------------------------------------------------------


def _later(first: ColumnElement[Any], second: ColumnElement[Any]) -> ColumnElement[Any]:
    """The later of two timestamps, in SQL that PostgreSQL and SQLite both run."""
    return case((first > second, first), else_=second)


def _with_slugs(
    rows: Select[Any],
    translation: type,
    owner_column: str,
    owner_id: ColumnElement[int],
    words: Mapping[str, str],
    base_url: str,
) -> Select[Any]:
    """Join one translation per locale: a page exists only when every language has it, and
    is listed only while every language is canonical to itself (no override, or one naming
    the page's own path or URL): only canonical URLs belong in a sitemap, and a page's
    languages are listed together, each naming the others as its hreflang alternates."""
    for locale in LOCALES:
        alias = aliased(translation)
        own_path = literal(words[locale]) + alias.slug
        canonical = alias.canonical_url
        rows = rows.join(
            alias,
            (getattr(alias, owner_column) == owner_id)
            & (alias.locale == locale)
            & (
                (canonical == "")
                | (canonical == own_path)
                | (canonical == literal(base_url.rstrip("/")) + own_path)
            ),
        ).add_columns(alias.slug.label(f"slug_{locale}"))
    return rows


def _product_rows(base_url: str) -> Select[Any]:
    rows = db.select(Product.id.label("id"), Product.updated_at.label("lastmod")).where(
        Product.status == ProductStatus.ACTIVE, Product.noindex.is_(False)
    )
    return _with_slugs(
        rows, ProductTranslation, "product_id", Product.id, PATHS["product"], base_url
    )


def _category_rows(base_url: str) -> Select[Any]:
    """Categories holding an active product, themselves or in any subcategory (a category
    page lists its subcategories' products too); last changed when they or one of those
    products last changed."""
    holding = (
        db.select(Product.category_id.label("id"), func.max(Product.updated_at).label("changed"))
        .where(Product.status == ProductStatus.ACTIVE, Product.category_id.is_not(None))
        .group_by(Product.category_id)
        .cte("category_lineage", recursive=True)
    )
    child = aliased(Category)
    lineage = holding.union_all(
        db.select(child.parent_id, holding.c.changed)
        .join(holding, child.id == holding.c.id)
        .where(child.parent_id.is_not(None))
    )
    listed = (
        db.select(
            Category.id.label("id"),
            _later(Category.updated_at, func.max(lineage.c.changed)).label("lastmod"),
        )
        .join(lineage, lineage.c.id == Category.id)
        .where(Category.noindex.is_(False))
        .group_by(Category.id, Category.updated_at)
        .subquery()
    )
    rows = db.select(listed.c.id, listed.c.lastmod)
    return _with_slugs(
        rows, CategoryTranslation, "category_id", listed.c.id, PATHS["category"], base_url
    )


def _tag_rows(base_url: str) -> Select[Any]:
    """Tags on at least one active product; last changed with the latest of them."""
    listed = (
        db.select(
            Tag.id.label("id"),
            _later(Tag.updated_at, func.max(Product.updated_at)).label("lastmod"),
        )
        .join(product_tags, product_tags.c.tag_id == Tag.id)
        .join(
            Product,
            (Product.id == product_tags.c.product_id) & (Product.status == ProductStatus.ACTIVE),
        )
        .where(Tag.noindex.is_(False))
        .group_by(Tag.id, Tag.updated_at)
        .subquery()
    )
    rows = db.select(listed.c.id, listed.c.lastmod)
    return _with_slugs(rows, TagTranslation, "tag_id", listed.c.id, PATHS["tag"], base_url)


ROWS = {"categories": _category_rows, "tags": _tag_rows, "products": _product_rows}
PATH_WORDS = {"categories": PATHS["category"], "tags": PATHS["tag"], "products": PATHS["product"]}


def _pages_lastmod() -> Select[Any]:
    """The home page shows the catalogue: it changes when an active product does."""
    return db.select(func.max(Product.updated_at).label("lastmod")).where(
        Product.status == ProductStatus.ACTIVE
    )


def _identity_lastmod() -> Select[Any]:
    """The contact page is a form under the header (categories) and the footer, which shows
    the store identity: it changes with the catalogue or the identity."""
    return db.select(func.max(PlatformConfig.updated_at)).where(
        PlatformConfig.key.like("legal\\_%", escape="\\")
    )


# -- the index ---------------------------------------------------------------------------


def sitemap_index(*, base_url: str, page_size: int = PAGE_SIZE) -> list[ChildSitemap]:
    """Every child sitemap with rows, in one query; ``pages`` always has the home and
    contact pages."""
    per_file = entries_per_file(page_size)
    parts = [
        db.select(
            literal("pages").label("kind"),
            literal(0).label("file"),
            _pages_lastmod().scalar_subquery().label("lastmod"),
        )
    ]
    for kind, rows in ROWS.items():
        listed = rows(base_url).subquery()
        numbered = db.select(
            ((func.row_number().over(order_by=listed.c.id) - 1) // per_file).label("file"),
            listed.c.lastmod,
        ).subquery()
        parts.append(
            db.select(
                literal(kind).label("kind"), numbered.c.file, func.max(numbered.c.lastmod)
            ).group_by(numbered.c.file)
        )
    found = db.session.execute(db.union_all(*parts)).all()
    files = sorted(
        ((kind, int(file) + 1, lastmod) for kind, file, lastmod in found),
        key=lambda child: (KINDS.index(child[0]), child[1]),
    )
    return [ChildSitemap(kind, number, _utc(lastmod)) for kind, number, lastmod in files]


# -- the entries of one child sitemap ----------------------------------------------------


def sitemap_entries(
    kind: str, number: int, *, base_url: str, page_size: int = PAGE_SIZE
) -> list[Entry]:
    """The pages of one child sitemap (empty when there is no such file)."""
    if kind not in KINDS:
        raise ValueError(f"unknown sitemap kind {kind!r}")
    if number < 1:
        return []
    if kind == "pages":
        if number != 1:
            return []
        found, identity = db.session.execute(
            db.select(_pages_lastmod().scalar_subquery(), _identity_lastmod().scalar_subquery())
        ).one()
        lastmod, identity = _utc(found), _utc(identity)
        contact = max((moment for moment in (lastmod, identity) if moment), default=None)
        return [
            Entry(home_alternates(base_url), lastmod),
            Entry(page_alternates(base_url, "storefront.contact"), contact),
        ]
    per_file = entries_per_file(page_size)
    listed = ROWS[kind](base_url).subquery()
    rows = db.session.execute(
        db.select(listed).order_by(listed.c.id).limit(per_file).offset((number - 1) * per_file)
    ).mappings()
    words = PATH_WORDS[kind]
    return [
        Entry(
            catalogue_alternates(
                base_url, {locale: words[locale] + row[f"slug_{locale}"] for locale in LOCALES}
            ),
            _utc(row["lastmod"]),
        )
        for row in rows
    ]


def home_alternates(base_url: str) -> dict[str, str]:
    """The home pages; their x-default is ``/``, which sends each visitor to their language."""
    adapter = current_app.url_map.bind("localhost")
    alternates = {
        locale: base_url + adapter.build("storefront.home", {"lang": locale}) for locale in LOCALES
    }
    alternates[X_DEFAULT] = base_url + adapter.build("storefront.choose_language", {})
    return alternates


def page_alternates(base_url: str, endpoint: str) -> dict[str, str]:
    """A fixed page of the shop (the contact page) in each language; x-default: French."""
    adapter = current_app.url_map.bind("localhost")
    alternates = {
        locale: base_url + adapter.build(endpoint, {"lang": locale}) for locale in LOCALES
    }
    alternates[X_DEFAULT] = alternates[DEFAULT_LOCALE]
    return alternates


def catalogue_alternates(base_url: str, paths: Mapping[str, str]) -> dict[str, str]:
    """A catalogue page in each language; its x-default is the French page."""
    alternates = {locale: base_url + quote(paths[locale]) for locale in LOCALES}
    alternates[X_DEFAULT] = alternates[DEFAULT_LOCALE]
    return alternates


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands timestamps back naive; they were written in UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# -- XML ---------------------------------------------------------------------------------


def w3c_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def render_index(children: Iterable[tuple[str, datetime | None]]) -> Iterator[str]:
    """``<sitemapindex>`` from (absolute URL, last change) pairs."""
    yield '<?xml version="1.0" encoding="UTF-8"?>\n'
    yield f"<sitemapindex xmlns={quoteattr(SITEMAP_NS)}>\n"
    for url, lastmod in children:
        lastmod_tag = f"<lastmod>{w3c_datetime(lastmod)}</lastmod>" if lastmod else ""
        yield f"  <sitemap><loc>{escape(url)}</loc>{lastmod_tag}</sitemap>\n"
    yield "</sitemapindex>\n"


def render_urlset(entries: Iterable[Entry]) -> Iterator[str]:
    """``<urlset>``: each entry's URL in every language, each with the entry's hreflang set."""
    yield '<?xml version="1.0" encoding="UTF-8"?>\n'
    yield f"<urlset xmlns={quoteattr(SITEMAP_NS)} xmlns:xhtml={quoteattr(XHTML_NS)}>\n"
    for entry in entries:
        lastmod = f"    <lastmod>{w3c_datetime(entry.lastmod)}</lastmod>\n" if entry.lastmod else ""
        links = "".join(
            f'    <xhtml:link rel="alternate" hreflang={quoteattr(code)} href={quoteattr(url)}/>\n'
            for code, url in entry.alternates.items()
        )
        for locale in LOCALES:
            loc = escape(entry.alternates[locale])
            yield f"  <url>\n    <loc>{loc}</loc>\n{lastmod}{links}  </url>\n"
    yield "</urlset>\n"


def robots_txt(sitemap_index_url: str) -> str:
    disallow = "".join(f"Disallow: {path}\n" for path in PRIVATE_PATHS)
    return f"User-agent: *\n{disallow}\nSitemap: {sitemap_index_url}\n"
