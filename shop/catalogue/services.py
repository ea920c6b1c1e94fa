"""Catalogue writes for products and their variants: the back office, the demo shop and the
tests all make products through these, under the same rules.

Every write checks everything first and changes nothing when it refuses (the refusals are in
``shop.catalogue.errors``); then it commits once and tells the storefront cache the catalogue
moved on. Options for callers other than a form:

- ``commit=False`` leaves the commit, and telling the cache, to the caller, who makes several
  changes in one transaction (the demo loads its whole catalogue that way);
- ``at`` is when the change happens, now by default: the demo replays a catalogue's history,
  tests set up the 30 days a reference price looks back on;
- ``created`` (on the writes that make a row) is called with the new row once it has its id,
  before the commit, so the caller's audit entry commits with the row it names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import column, exists, func, or_, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from shop import page_cache
from shop.catalogue import pricing
from shop.catalogue.addresses import assign_slug, taken_slugs
from shop.catalogue.errors import (
    CatalogueError,
    CompareAtTooLow,
    EnglishTitleMissing,
    FrenchDescriptionMissing,
    FrenchTitleMissing,
    InvalidChoice,
    LastVariant,
    NegativePrice,
    NotFound,
    NoVariant,
    PublishingProblem,
    SkuMissing,
    SkuTaken,
    TitleMissing,
    TitleRequired,
    refuse,
)
from shop.catalogue.models import (
    Category,
    PriceHistory,
    Product,
    ProductKind,
    ProductStatus,
    ProductTranslation,
    ProductVariant,
    Tag,
    TaxClass,
)
from shop.catalogue.pricing import OMNIBUS_WINDOW
from shop.catalogue.seo import canonical_errors
from shop.catalogue.text import plain_text, sanitize_description
from shop.clock import utcnow
from shop.config import LOCALES
from shop.extensions import db
from shop.inventory.models import InventoryMovement, InventoryReservation

# Order lines keep the variant they sold, by the name their foreign key uses: the orders sit
# above the catalogue (they are made of it), so the catalogue does not import them.
_ORDER_LINES = table("order_lines", column("variant_id"))


@dataclass(frozen=True)
class Text:
    """One language's shopper-facing text for a product."""

    title: str
    description: str = ""
    slug: str | None = None  # None: the current one, else one made from the title
    meta_title: str = ""
    meta_description: str = ""
    canonical_url: str = ""


@dataclass(frozen=True)
class ProductInput:
    texts: Mapping[str, Text | None]  # None: nothing in that language
    kind: str = ProductKind.PHYSICAL
    status: str = ProductStatus.DRAFT
    tax_class: str = TaxClass.STANDARD
    category_id: int | None = None
    tag_ids: tuple[int, ...] = ()
    featured: bool = False
    noindex: bool = False
    og_image_id: int | None = None  # one of the product's images; None: the first one


@dataclass(frozen=True)
class VariantInput:
    sku: str
    price: int
    compare_at_price: int | None = None
    barcode: str | None = None
    options: list[dict[str, Any]] = field(default_factory=list)
    track_inventory: bool = True
    weight_grams: int | None = None


# -- reading what a write works on -------------------------------------------------------


def load_product(product_id: int) -> Product:
    """The product with everything its edit page shows, in a fixed number of queries."""
    product = db.session.execute(
        select(Product)
        .where(Product.id == product_id)
        .options(
            selectinload(Product.translations),
            selectinload(Product.variants),
            selectinload(Product.images),
            selectinload(Product.tags),
        )
    ).scalar_one_or_none()
    if product is None:
        raise NotFound(product_id)
    return product


def _product(product_id: int) -> Product:
    """The product a write works on; its collections load as the checks need them (a view
    that showed the product has them in the session already)."""
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound(product_id)
    return product


def load_variant(variant_id: int) -> ProductVariant:
    variant = db.session.get(ProductVariant, variant_id)
    if variant is None:
        raise NotFound(variant_id)
    return variant


def display_title(product: Product, locale: str) -> str:
    """The title in ``locale``, else in the other language, else the product's number."""
    for code in (locale, *LOCALES):
        if (text := product.translations.get(code)) and text.title:
            return text.title
    return f"#{product.id}"


def sku_owner(sku: str, *, except_variant_id: int | None = None) -> tuple[int, str] | None:
    """(product id, SKU as stored) of the variant already using ``sku`` (case ignored)."""
    sku = sku.strip()
    if not sku:
        return None
    row = db.session.execute(
        select(ProductVariant.product_id, ProductVariant.sku).where(
            func.lower(ProductVariant.sku) == sku.lower(),
            *([ProductVariant.id != except_variant_id] if except_variant_id else []),
        )
    ).first()
    return (row[0], row[1]) if row else None


TEXT_FIELDS = ("title", "slug", "description", "meta_title", "meta_description", "canonical_url")


def product_snapshot(product: Product) -> dict[str, Any]:
    """What the audit log compares before and after a product change."""
    snapshot: dict[str, Any] = {
        "status": product.status,
        "kind": product.kind,
        "tax_class": product.tax_class,
        "category_id": product.category_id,
        "featured": product.featured,
        "tags": sorted(tag.id for tag in product.tags),
        "noindex": product.noindex,
        "og_image_id": product.og_image_id,
    }
    for locale, text in product.translations.items():
        for name in TEXT_FIELDS:
            snapshot[f"{locale}.{name}"] = getattr(text, name)
    return snapshot


def variant_snapshot(variant: ProductVariant) -> dict[str, Any]:
    return {
        "product_id": variant.product_id,
        "sku": variant.sku,
        "barcode": variant.barcode,
        "price": variant.price,
        "compare_at_price": variant.compare_at_price,
        "options": variant.options,
        "track_inventory": variant.track_inventory,
        "weight_grams": variant.weight_grams,
        "is_active": variant.is_active,
    }


# -- products ----------------------------------------------------------------------------


def publishing_problems(
    texts: Mapping[str, Text | ProductTranslation | None], active_variants: int
) -> list[PublishingProblem]:
    """Why a product cannot be active: its French title and description (the Québec rule:
    French at least equivalent), an English title (every public page exists in both
    languages: hreflang twins, equal sitemaps), and a variant to sell."""
    problems: list[PublishingProblem] = []
    french, english = texts.get("fr"), texts.get("en")
    if french is None or not french.title.strip():
        problems.append(FrenchTitleMissing())
    if french is None or not plain_text(french.description):
        problems.append(FrenchDescriptionMissing())
    if english is None or not english.title.strip():
        problems.append(EnglishTitleMissing())
    if active_variants == 0:
        problems.append(NoVariant())
    return problems


def save_product(
    product_id: int | None,
    data: ProductInput,
    *,
    created: Callable[[Product], None] | None = None,
    at: datetime | None = None,
    commit: bool = True,
) -> Product:
    """Create (``product_id`` None) or update a product with its texts, all or nothing."""
    product = _product(product_id) if product_id is not None else None
    tags = _find_tags(data.tag_ids)
    refuse(_product_errors(data, product, tags))
    now = at or utcnow()
    if product is None:  # its collections start empty: nothing to load
        product = Product(created_at=now, translations={}, variants=[], images=[])
        db.session.add(product)
    if data.status == ProductStatus.ACTIVE and product.status != ProductStatus.ACTIVE:
        product.published_at = product.published_at or now
    product.kind = data.kind
    product.status = data.status
    product.tax_class = data.tax_class
    product.category_id = data.category_id
    product.featured = data.featured
    product.tags = tags or []
    product.noindex = data.noindex
    product.og_image_id = data.og_image_id
    product.updated_at = now  # sitemaps' lastmod follows text changes too
    db.session.flush()
    for locale in LOCALES:
        if (text := data.texts.get(locale)) is not None:
            _set_text(product, locale, text)
    if created is not None and product_id is None:
        created(product)
    if commit:
        commit_changes()
    return product


def set_status(
    product_id: int, status: str, *, at: datetime | None = None, commit: bool = True
) -> Product:
    """Publish (with the publishing rules), archive or return a product to draft."""
    product = _product(product_id)
    if status not in ProductStatus.ALL:
        raise InvalidChoice(field="status")
    now = at or utcnow()
    if status == ProductStatus.ACTIVE:
        refuse(
            publishing_problems(product.translations, sum(v.is_active for v in product.variants))
        )
        product.published_at = product.published_at or now
    product.status = status
    product.updated_at = now
    if commit:
        commit_changes()
    return product


def _product_errors(
    data: ProductInput, product: Product | None, tags: list[Tag] | None
) -> list[CatalogueError]:
    """Every reason to refuse, at most one per field (the publishing rules first)."""
    errors: list[CatalogueError] = []
    if data.status == ProductStatus.ACTIVE:
        active = sum(v.is_active for v in product.variants) if product is not None else 0
        errors += publishing_problems(data.texts, active)
    if not any(text is not None and text.title.strip() for text in data.texts.values()):
        errors.append(TitleMissing())
    for locale in LOCALES:
        text = data.texts.get(locale)
        removed = text is None and product is not None and locale in product.translations
        if removed or (text is not None and not text.title.strip()):
            errors.append(TitleRequired(field=f"{locale}-title"))
    if data.kind not in ProductKind.ALL:
        errors.append(InvalidChoice(field="kind"))
    if data.tax_class not in TaxClass.ALL:
        errors.append(InvalidChoice(field="tax_class"))
    if data.status not in ProductStatus.ALL:
        errors.append(InvalidChoice(field="status"))
    if data.category_id is not None and db.session.get(Category, data.category_id) is None:
        errors.append(InvalidChoice(field="category_id"))
    if tags is None:
        errors.append(InvalidChoice(field="tags"))
    if data.og_image_id is not None and (
        product is None or data.og_image_id not in {image.id for image in product.images}
    ):
        errors.append(InvalidChoice(field="og_image_id"))
    errors += canonical_errors(data.texts)
    own_id = product.id if product is not None else None
    errors += taken_slugs(ProductTranslation, "product_id", own_id, data.texts)
    first: dict[str | None, CatalogueError] = {}
    for error in errors:
        first.setdefault(getattr(error, "field", None), error)
    return list(first.values())


def _find_tags(ids: Iterable[int]) -> list[Tag] | None:
    """The tags, or None when one of them does not exist."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    found = list(db.session.execute(select(Tag).where(Tag.id.in_(wanted))).scalars())
    return found if len(found) == len(wanted) else None


def _set_text(product: Product, locale: str, text: Text) -> None:
    current = product.translations.get(locale)
    slug = assign_slug(
        ProductTranslation, "product_id", "product", product.id, locale, text, text.title, current
    )
    values = {
        "title": text.title.strip(),
        "slug": slug,
        "description": sanitize_description(text.description),
        "meta_title": text.meta_title.strip(),
        "meta_description": text.meta_description.strip(),
        "canonical_url": text.canonical_url.strip(),
    }
    if current is None:
        product.translations[locale] = ProductTranslation(locale=locale, **values)
    else:
        for key, value in values.items():
            setattr(current, key, value)


# -- variants ----------------------------------------------------------------------------


def create_variant(
    product_id: int,
    data: VariantInput,
    *,
    created: Callable[[ProductVariant], None] | None = None,
    at: datetime | None = None,
    commit: bool = True,
) -> ProductVariant:
    """A new variant, last of its product, its price the first of its price history."""
    product = _product(product_id)
    refuse(_variant_errors(data, None))
    now = at or utcnow()
    variant = ProductVariant(
        product=product,
        sku=data.sku.strip(),
        barcode=data.barcode or None,
        price=data.price,
        compare_at_price=data.compare_at_price,
        options=data.options,
        track_inventory=data.track_inventory,
        weight_grams=data.weight_grams,
        position=max((v.position for v in product.variants), default=-1) + 1,
        price_since=now,
    )
    db.session.add(variant)
    db.session.flush()
    db.session.add(PriceHistory(variant_id=variant.id, price=data.price, started_at=now))
    _refresh_min_price(product)
    product.updated_at = now
    if created is not None:
        created(variant)
    if commit:
        _commit_variant()
    return variant


def update_variant(
    variant_id: int, data: VariantInput, *, at: datetime | None = None, commit: bool = True
) -> ProductVariant:
    """Edit a variant; a new price goes through the price history (EU Omnibus reference)."""
    variant = load_variant(variant_id)
    refuse(_variant_errors(data, variant.id))
    now = at or utcnow()
    if data.price != variant.price:
        variant.lowest_prior_price = lowest_price_before(variant.id, now)
        variant.price = data.price
        variant.price_since = now
        db.session.add(PriceHistory(variant_id=variant.id, price=data.price, started_at=now))
    variant.compare_at_price = data.compare_at_price
    variant.sku = data.sku.strip()
    variant.barcode = data.barcode or None
    variant.options = data.options
    variant.track_inventory = data.track_inventory
    variant.weight_grams = data.weight_grams
    _refresh_min_price(variant.product)
    variant.product.updated_at = now
    if commit:
        _commit_variant()
    return variant


def remove_variant(variant_id: int) -> bool:
    """Delete a variant, or deactivate it when stock, holds or orders refer to it (the ledger
    and the orders keep their history). Returns True when the row was deleted."""
    variant = load_variant(variant_id)
    product = variant.product
    others = [v for v in product.variants if v.is_active and v.id != variant.id]
    if product.status == ProductStatus.ACTIVE and not others:
        raise LastVariant()
    used = db.session.execute(
        select(
            exists().where(InventoryMovement.variant_id == variant.id)
            | exists().where(InventoryReservation.variant_id == variant.id)
            | exists().where(_ORDER_LINES.c.variant_id == variant.id)
        )
    ).scalar()
    if used:
        variant.is_active = False
    else:
        product.variants.remove(variant)
        db.session.delete(variant)
        db.session.flush()
    _refresh_min_price(product)
    product.updated_at = utcnow()
    commit_changes()
    return not used


def lowest_price_before(variant_id: int, moment: datetime) -> int | None:
    """The lowest price applied during the 30 days before ``moment`` (EU Omnibus directive):
    the variant's price history over that window, one query, read by ``pricing``'s rule."""
    window_start = moment - OMNIBUS_WINDOW
    in_force_at_start = (
        select(func.max(PriceHistory.started_at))
        .where(PriceHistory.variant_id == variant_id, PriceHistory.started_at <= window_start)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(PriceHistory.started_at, PriceHistory.price).where(
            PriceHistory.variant_id == variant_id,
            PriceHistory.started_at < moment,
            or_(
                PriceHistory.started_at > window_start,
                PriceHistory.started_at >= in_force_at_start,
            ),
        )
    ).all()
    return pricing.lowest_price_before(((r.started_at, r.price) for r in rows), moment)


def _variant_errors(data: VariantInput, except_variant_id: int | None) -> list[CatalogueError]:
    errors: list[CatalogueError] = []
    if not data.sku.strip():
        errors.append(SkuMissing())
    elif sku_owner(data.sku, except_variant_id=except_variant_id):
        errors.append(SkuTaken())
    if data.price < 0:
        errors.append(NegativePrice())
    elif data.compare_at_price is not None and data.compare_at_price <= data.price:
        errors.append(CompareAtTooLow())
    return errors


def _refresh_min_price(product: Product) -> None:
    prices = [v.price for v in product.variants if v.is_active]
    product.min_price = min(prices) if prices else 0


def commit_changes() -> None:
    """Commit, then tell the storefront cache the catalogue moved on: the last step of every
    write here, and the one a caller that passed ``commit=False`` takes once it is done."""
    db.session.commit()
    page_cache.catalogue_changed()


def _commit_variant() -> None:
    """Commit; a SKU taken in the meantime by another session is the same refusal."""
    try:
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        raise SkuTaken() from error
    page_cache.catalogue_changed()
