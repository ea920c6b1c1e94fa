"""Catalogue writes: products, translations (with slug redirects), variants and prices.

Every change commits in the service and then tells the cache the catalogue moved on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func

from shop.catalogue import cache
from shop.catalogue.models import (
    Category,
    CategoryTranslation,
    PriceHistory,
    Product,
    ProductStatus,
    ProductTranslation,
    ProductVariant,
    Tag,
    TagTranslation,
    UrlRedirect,
)
from shop.catalogue.text import sanitize_description, slugify
from shop.clock import utcnow
from shop.config import LOCALES
from shop.extensions import db

OMNIBUS_WINDOW = timedelta(days=30)

# Localized path words, shared with the storefront routes and the redirects they leave behind.
PATHS = {
    "product": {"fr": "/fr/produits/", "en": "/en/products/"},
    "category": {"fr": "/fr/categories/", "en": "/en/categories/"},
    "tag": {"fr": "/fr/etiquettes/", "en": "/en/tags/"},
}


class CatalogueError(Exception):
    message = _l("This change could not be saved.")


class SlugTaken(CatalogueError):
    message = _l("This web address is already used by another page.")


class InvalidPrice(CatalogueError):
    message = _l("Prices must be positive, and a compare-at price above the price.")


@dataclass(frozen=True)
class Text:
    """One locale's shopper-facing text for a product."""

    title: str
    description: str = ""
    slug: str | None = None
    meta_title: str = ""
    meta_description: str = ""
    canonical_url: str = ""  # checked by the caller (shop.catalogue.seo.clean_canonical)


# -- redirects ---------------------------------------------------------------------------


def record_redirect(old_path: str, new_path: str) -> None:
    """Old path answers 301 to the new one; earlier redirects are pointed straight at it."""
    if old_path == new_path:
        return
    db.session.execute(
        db.update(UrlRedirect).where(UrlRedirect.new_path == old_path).values(new_path=new_path)
    )
    db.session.execute(db.delete(UrlRedirect).where(UrlRedirect.old_path == new_path))
    existing = db.session.execute(
        db.select(UrlRedirect).where(UrlRedirect.old_path == old_path)
    ).scalar_one_or_none()
    if existing:
        existing.new_path = new_path
    else:
        db.session.add(UrlRedirect(old_path=old_path, new_path=new_path))


def redirect_for(path: str) -> str | None:
    return db.session.execute(
        db.select(UrlRedirect.new_path).where(UrlRedirect.old_path == path)
    ).scalar_one_or_none()


# -- products ----------------------------------------------------------------------------


def _unique_slug(model: type, locale: str, wanted: str, own_id: int | None, owner: str) -> str:
    owner_column = getattr(model, owner)
    taken = set(
        db.session.execute(
            db.select(model.slug).where(
                model.locale == locale,
                model.slug.like(f"{wanted}%"),
                *([owner_column != own_id] if own_id else []),
            )
        ).scalars()
    )
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted}-{n}" in taken:
        n += 1
    return f"{wanted}-{n}"


def set_product_text(product: Product, locale: str, text: Text) -> ProductTranslation:
    """Create or update one locale's text. A changed slug leaves a 301 behind."""
    if locale not in LOCALES:
        raise ValueError(f"unknown locale {locale!r}")
    wanted = slugify(text.slug or text.title)
    translation = product.translations.get(locale)
    if text.slug:
        clash = db.session.execute(
            db.select(ProductTranslation.id).where(
                ProductTranslation.locale == locale,
                ProductTranslation.slug == wanted,
                ProductTranslation.product_id != product.id,
            )
        ).first()
        if clash:
            raise SlugTaken(wanted)
        slug = wanted
    elif translation is not None:
        slug = translation.slug
    else:
        slug = _unique_slug(ProductTranslation, locale, wanted, product.id, "product_id")
    values = {
        "title": text.title.strip(),
        "slug": slug,
        "description": sanitize_description(text.description),
        "meta_title": text.meta_title.strip(),
        "meta_description": text.meta_description.strip(),
        "canonical_url": text.canonical_url.strip(),
    }
    product.updated_at = utcnow()  # sitemaps' lastmod follows text changes too
    if translation is None:
        translation = ProductTranslation(locale=locale, **values)
        product.translations[locale] = translation
    else:
        if translation.slug != slug:
            prefix = PATHS["product"][locale]
            record_redirect(prefix + translation.slug, prefix + slug)
        for key, value in values.items():
            setattr(translation, key, value)
    return translation


def create_product(
    texts: Mapping[str, Text],
    *,
    kind: str = "physical",
    status: str = ProductStatus.DRAFT,
    category: Category | None = None,
    tax_class: str = "standard",
    featured: bool = False,
    tags: Iterable[Tag] = (),
    commit: bool = True,
) -> Product:
    product = Product(
        kind=kind,
        status=status,
        tax_class=tax_class,
        category=category,
        featured=featured,
        published_at=utcnow() if status == ProductStatus.ACTIVE else None,
    )
    product.tags = list(tags)
    db.session.add(product)
    db.session.flush()
    for locale, text in texts.items():
        set_product_text(product, locale, text)
    if commit:
        _commit()
    return product


def update_product_text(product_id: int, locale: str, text: Text) -> Product:
    product = db.session.get(Product, product_id)
    if product is None:
        raise CatalogueError(product_id)
    set_product_text(product, locale, text)
    _commit()
    return product


def add_variant(
    product: Product,
    *,
    sku: str,
    price: int,
    compare_at_price: int | None = None,
    options: list[dict[str, Any]] | None = None,
    barcode: str | None = None,
    track_inventory: bool = True,
    position: int = 0,
    at: datetime | None = None,
    commit: bool = True,
) -> ProductVariant:
    _check_price(price, compare_at_price)
    at = at or utcnow()
    variant = ProductVariant(
        product=product,
        sku=sku,
        barcode=barcode,
        price=price,
        compare_at_price=compare_at_price,
        options=options or [],
        track_inventory=track_inventory,
        position=position,
        price_since=at,
    )
    db.session.add(variant)
    db.session.flush()
    db.session.add(PriceHistory(variant_id=variant.id, price=price, started_at=at))
    refresh_min_price(product)
    if commit:
        _commit()
    return variant


def change_price(
    variant_id: int,
    price: int,
    compare_at_price: int | None = None,
    *,
    at: datetime | None = None,
    commit: bool = True,
) -> ProductVariant:
    """A new price from ``at``; the Omnibus reference is fixed now, from the last 30 days."""
    _check_price(price, compare_at_price)
    at = at or utcnow()
    variant = db.session.get(ProductVariant, variant_id)
    if variant is None:
        raise CatalogueError(variant_id)
    if price != variant.price:
        variant.lowest_prior_price = lowest_price_before(variant.id, at)
        variant.price = price
        variant.price_since = at
        db.session.add(PriceHistory(variant_id=variant.id, price=price, started_at=at))
    variant.compare_at_price = compare_at_price
    refresh_min_price(variant.product)
    if commit:
        _commit()
    return variant


def lowest_price_before(variant_id: int, moment: datetime) -> int | None:
    """The lowest price applied during the 30 days before ``moment`` (EU Omnibus directive)."""
    window_start = moment - OMNIBUS_WINDOW
    in_force_at_start = (
        db.select(PriceHistory.price)
        .where(PriceHistory.variant_id == variant_id, PriceHistory.started_at <= window_start)
        .order_by(PriceHistory.started_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    started_within = (
        db.select(func.min(PriceHistory.price))
        .where(
            PriceHistory.variant_id == variant_id,
            PriceHistory.started_at > window_start,
            PriceHistory.started_at < moment,
        )
        .scalar_subquery()
    )
    first, second = db.session.execute(db.select(in_force_at_start, started_within)).one()
    candidates = [p for p in (first, second) if p is not None]
    return min(candidates) if candidates else None


def refresh_min_price(product: Product) -> None:
    prices = [v.price for v in product.variants if v.is_active]
    product.min_price = min(prices) if prices else 0


def _check_price(price: int, compare_at_price: int | None) -> None:
    if price < 0 or (compare_at_price is not None and compare_at_price <= price):
        raise InvalidPrice(price)


def publish(product_id: int) -> Product:
    product = db.session.get(Product, product_id)
    if product is None:
        raise CatalogueError(product_id)
    product.status = ProductStatus.ACTIVE
    product.published_at = product.published_at or utcnow()
    _commit()
    return product


# -- categories and tags -----------------------------------------------------------------


def create_category(
    names: Mapping[str, str],
    *,
    parent: Category | None = None,
    position: int = 0,
    featured: bool = False,
    descriptions: Mapping[str, str] | None = None,
    commit: bool = True,
) -> Category:
    category = Category(parent=parent, position=position, featured=featured)
    db.session.add(category)
    db.session.flush()
    for locale, name in names.items():
        slug = _unique_slug(CategoryTranslation, locale, slugify(name), category.id, "category_id")
        category.translations[locale] = CategoryTranslation(
            locale=locale,
            name=name,
            slug=slug,
            description=sanitize_description((descriptions or {}).get(locale, "")),
        )
    if commit:
        _commit()
    return category


def rename_category(category_id: int, locale: str, name: str, slug: str | None = None) -> Category:
    category = db.session.get(Category, category_id)
    if category is None:
        raise CatalogueError(category_id)
    translation = category.translations[locale]
    new_slug = slugify(slug or name)
    if new_slug != translation.slug:
        clash = db.session.execute(
            db.select(CategoryTranslation.id).where(
                CategoryTranslation.locale == locale,
                CategoryTranslation.slug == new_slug,
                CategoryTranslation.category_id != category_id,
            )
        ).first()
        if clash:
            raise SlugTaken(new_slug)
        prefix = PATHS["category"][locale]
        record_redirect(prefix + translation.slug, prefix + new_slug)
        translation.slug = new_slug
    translation.name = name
    category.updated_at = utcnow()
    _commit()
    return category


def create_tag(names: Mapping[str, str], *, commit: bool = True) -> Tag:
    tag = Tag()
    db.session.add(tag)
    db.session.flush()
    for locale, name in names.items():
        slug = _unique_slug(TagTranslation, locale, slugify(name), tag.id, "tag_id")
        tag.translations[locale] = TagTranslation(locale=locale, name=name, slug=slug)
    if commit:
        _commit()
    return tag


def _commit() -> None:
    db.session.commit()
    cache.catalogue_changed()
