"""Back-office catalogue: the staff product list, product editing under the publishing rules,
variants, images, the category tree and tags.

Every write validates first and changes nothing when it refuses; then it commits once and
tells the storefront cache the catalogue moved on. Services that create a row take an
optional ``created`` callback, called with the new row once it has its id and before the
commit, so the caller's audit entry commits with the row it names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO, TypeVar

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, selectinload

from shop.accounts.models import utcnow
from shop.catalogue import cache, images, services
from shop.catalogue.models import (
    Category,
    CategoryTranslation,
    Product,
    ProductImage,
    ProductKind,
    ProductStatus,
    ProductTranslation,
    ProductVariant,
    Tag,
    TagTranslation,
    TaxClass,
    product_tags,
)
from shop.catalogue.services import PATHS, CatalogueError, SlugTaken, Text, record_redirect
from shop.catalogue.text import plain_text, sanitize_description, slugify
from shop.config import LOCALES
from shop.extensions import db
from shop.inventory.models import InventoryItem, InventoryMovement, InventoryReservation
from shop.orders.models import OrderLine

T = TypeVar("T")
Created = Callable[[T], None] | None
PAGE_SIZE = 50
SORTS = ("updated", "title", "price_asc", "price_desc", "created")
STOCK_STATES = ("in_stock", "low", "out")
LOW_STOCK_DEFAULT = 3  # the shop default when LOW_STOCK_THRESHOLD is not set


# -- refusals ----------------------------------------------------------------------------


class FieldError(CatalogueError):
    """A refusal about one form field (``field``, e.g. "fr-title"), or the whole form."""

    field: str | None = None

    def __init__(self, *args: object, field: str | None = None) -> None:
        super().__init__(*args)
        if field is not None:
            self.field = field


class InvalidChoice(FieldError):
    message = _l("Please choose one of the listed options.")


class SlugInUse(FieldError):
    message = SlugTaken.message


class NegativePrice(FieldError):
    field = "price"
    message = _l("The price cannot be negative.")


class CompareAtTooLow(FieldError):
    field = "compare_at_price"
    message = _l("The compare-at price must be above the price, or left empty.")


class NotFound(CatalogueError):
    message = _l("This item does not exist (any more).")


class FrenchTitleMissing(FieldError):
    field = "fr-title"
    message = _l("A product can only be published with its French title.")


class FrenchDescriptionMissing(FieldError):
    field = "fr-description"
    message = _l("A product can only be published with its French description.")


class NoVariant(FieldError):
    field = "status"
    message = _l("Add a variant with its price before publishing this product.")


class TitleMissing(FieldError):
    field = "fr-title"
    message = _l("Please enter a title, in French or in English.")


class TitleRequired(FieldError):
    """A language's text without its title, or a title removed once given."""

    message = _l("Please enter the title in this language, or leave all its fields empty.")


class SkuTaken(FieldError):
    field = "sku"
    message = _l("This SKU is already used by another variant.")


class SkuMissing(FieldError):
    field = "sku"
    message = _l("Please enter a SKU.")


class LastVariant(FieldError):
    message = _l("A published product keeps at least one variant. Archive the product instead.")


class CategoryCycle(FieldError):
    field = "parent_id"
    message = _l("A category cannot be placed inside itself or one of its subcategories.")


class CategoryNotEmpty(FieldError):
    message = _l(
        "Only an empty category can be deleted: move its subcategories and products first."
    )


class NameMissing(FieldError):
    message = _l("Please enter the name in both languages.")


class NothingPublished(CatalogueError):
    """A bulk publication where every ticked product lacks something."""

    message = _l("None of these products can be published yet.")

    def __init__(self, refused: list[tuple[int, str]]) -> None:
        super().__init__(refused)
        self.refused = refused


class Refused(CatalogueError):
    """Several refusals at once, so a form can show every one of them."""

    def __init__(self, errors: Sequence[CatalogueError]) -> None:
        super().__init__(*errors)
        self.errors = list(errors)
        self.message = errors[0].message


def _refuse(errors: list[CatalogueError]) -> None:
    if errors:
        raise Refused(errors) if len(errors) > 1 else errors[0]


def _commit() -> None:
    db.session.commit()
    cache.catalogue_changed()


# -- the staff product list --------------------------------------------------------------


@dataclass(frozen=True)
class ProductFilters:
    q: str = ""
    status: str = ""
    category_id: int | None = None
    tag_id: int | None = None
    kind: str = ""
    stock: str = ""
    sort: str = "updated"
    page: int = 1


@dataclass
class ProductRow:
    id: int
    title: str
    status: str
    kind: str
    category: str | None
    min_price: int
    variant_count: int
    available: int | None  # units across tracked variants; None: nothing tracked
    low: bool
    text_ready: dict[str, bool]  # locale -> title and description present
    updated_at: datetime


@dataclass
class ProductPage:
    rows: list[ProductRow]
    total: int
    page: int
    page_size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


def _left():
    return func.coalesce(InventoryItem.on_hand - InventoryItem.reserved, 0)


def _tracked_variants(*conditions: Any):
    return (
        select(ProductVariant.id)
        .outerjoin(InventoryItem, InventoryItem.variant_id == ProductVariant.id)
        .where(
            ProductVariant.product_id == Product.id,
            ProductVariant.is_active.is_(True),
            ProductVariant.track_inventory.is_(True),
            *conditions,
        )
        .correlate(Product)
    )


def _available_condition():
    """SQL: the product can be bought now (an active variant untracked or with stock left)."""
    untracked = exists().where(
        ProductVariant.product_id == Product.id,
        ProductVariant.is_active.is_(True),
        ProductVariant.track_inventory.is_(False),
    )
    return or_(untracked.correlate(Product), exists(_tracked_variants(_left() > 0)))


def _low_condition():
    default = int(current_app.config.get("LOW_STOCK_THRESHOLD", LOW_STOCK_DEFAULT))
    threshold = func.coalesce(InventoryItem.low_stock_threshold, default)
    return exists(_tracked_variants(_left() <= threshold))


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _subtree(category_id: int):
    tree = select(Category.id).where(Category.id == category_id).cte("subtree", recursive=True)
    return tree.union_all(select(Category.id).where(Category.parent_id == tree.c.id))


def product_page(filters: ProductFilters, locale: str) -> ProductPage:
    """One page of products for staff, in one query whatever the page or catalogue size."""
    own, other = aliased(ProductTranslation), aliased(ProductTranslation)
    fr, en = aliased(ProductTranslation), aliased(ProductTranslation)
    other_locale = "en" if locale == "fr" else "fr"
    where: list[Any] = []
    if filters.status in ProductStatus.ALL:
        where.append(Product.status == filters.status)
    if filters.kind in ProductKind.ALL:
        where.append(Product.kind == filters.kind)
    if filters.category_id:
        tree = _subtree(filters.category_id)
        where.append(Product.category_id.in_(select(tree.c.id)))
    if filters.tag_id:
        where.append(
            Product.id.in_(
                select(product_tags.c.product_id).where(product_tags.c.tag_id == filters.tag_id)
            )
        )
    if filters.stock == "in_stock":
        where.append(_available_condition())
    elif filters.stock == "out":
        where.append(not_(_available_condition()))
    elif filters.stock == "low":
        where.append(_low_condition())
    if q := filters.q.strip()[:100]:
        pattern = _like(q)
        where.append(
            or_(
                Product.id.in_(
                    select(ProductTranslation.product_id).where(
                        or_(
                            ProductTranslation.title.ilike(pattern, escape="\\"),
                            ProductTranslation.slug.ilike(pattern, escape="\\"),
                        )
                    )
                ),
                Product.id.in_(
                    select(ProductVariant.product_id).where(
                        ProductVariant.sku.ilike(pattern, escape="\\")
                    )
                ),
                *([Product.id == int(q)] if q.isdigit() and len(q) < 10 else []),
            )
        )
    title = func.coalesce(own.title, other.title, "")
    order = {
        "title": [func.lower(title), Product.id],
        "price_asc": [Product.min_price.asc(), Product.id],
        "price_desc": [Product.min_price.desc(), Product.id],
        "created": [Product.created_at.desc(), Product.id.desc()],
    }.get(filters.sort, [Product.updated_at.desc(), Product.id.desc()])
    variant_count = (
        select(func.count())
        .where(ProductVariant.product_id == Product.id, ProductVariant.is_active.is_(True))
        .correlate(Product)
        .scalar_subquery()
    )
    tracked_units = (
        select(func.sum(_left()))
        .select_from(ProductVariant)
        .outerjoin(InventoryItem, InventoryItem.variant_id == ProductVariant.id)
        .where(
            ProductVariant.product_id == Product.id,
            ProductVariant.is_active.is_(True),
            ProductVariant.track_inventory.is_(True),
        )
        .correlate(Product)
        .scalar_subquery()
    )
    category_name = aliased(CategoryTranslation)
    rows = db.session.execute(
        select(
            Product,
            title,
            category_name.name,
            variant_count,
            tracked_units,
            _low_condition(),
            fr.title,
            fr.description,
            en.title,
            en.description,
            func.count().over(),
        )
        .outerjoin(own, and_(own.product_id == Product.id, own.locale == locale))
        .outerjoin(other, and_(other.product_id == Product.id, other.locale == other_locale))
        .outerjoin(fr, and_(fr.product_id == Product.id, fr.locale == "fr"))
        .outerjoin(en, and_(en.product_id == Product.id, en.locale == "en"))
        .outerjoin(
            category_name,
            and_(category_name.category_id == Product.category_id, category_name.locale == locale),
        )
        .where(*where)
        .order_by(*order)
        .limit(PAGE_SIZE)
        .offset((max(filters.page, 1) - 1) * PAGE_SIZE)
    ).all()
    result = [
        ProductRow(
            id=product.id,
            title=row_title,
            status=product.status,
            kind=product.kind,
            category=category,
            min_price=product.min_price,
            variant_count=count,
            available=units,
            low=bool(low),
            text_ready={
                "fr": bool(fr_title and plain_text(fr_desc or "")),
                "en": bool(en_title and plain_text(en_desc or "")),
            },
            updated_at=product.updated_at,
        )
        for (
            product,
            row_title,
            category,
            count,
            units,
            low,
            fr_title,
            fr_desc,
            en_title,
            en_desc,
            _total,
        ) in rows
    ]
    total = rows[0][-1] if rows else 0
    return ProductPage(result, total, max(filters.page, 1))


def category_choices(locale: str) -> list[tuple[int, str, int]]:
    """Every category as (id, name in ``locale``, depth), in tree order."""
    rows = db.session.execute(
        select(Category.id, Category.parent_id, Category.position, CategoryTranslation.name)
        .outerjoin(
            CategoryTranslation,
            and_(
                CategoryTranslation.category_id == Category.id,
                CategoryTranslation.locale == locale,
            ),
        )
        .order_by(Category.position, Category.id)
    ).all()
    children: dict[int | None, list[Any]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    known = {row.id for row in rows}
    out: list[tuple[int, str, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for row in children.get(parent, []):
            out.append((row.id, row.name or f"#{row.id}", depth))
            walk(row.id, depth + 1)

    walk(None, 0)
    # Rows whose parent is unreachable (never expected) still get listed.
    for row in rows:
        if row.parent_id is not None and row.parent_id not in known:
            out.append((row.id, row.name or f"#{row.id}", 0))
    return out


def tag_choices(locale: str) -> list[tuple[int, str]]:
    rows = db.session.execute(
        select(Tag.id, TagTranslation.name)
        .outerjoin(
            TagTranslation, and_(TagTranslation.tag_id == Tag.id, TagTranslation.locale == locale)
        )
        .order_by(func.lower(func.coalesce(TagTranslation.name, "")), Tag.id)
    ).all()
    return [(row.id, row.name or f"#{row.id}") for row in rows]


# -- one product -------------------------------------------------------------------------


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


def stock_by_variant(variant_ids: Iterable[int]) -> dict[int, InventoryItem]:
    ids = list(variant_ids)
    if not ids:
        return {}
    items = db.session.execute(
        select(InventoryItem).where(InventoryItem.variant_id.in_(ids))
    ).scalars()
    return {item.variant_id: item for item in items}


def product_snapshot(product: Product) -> dict[str, Any]:
    """What the audit log compares before and after a product change."""
    snapshot: dict[str, Any] = {
        "status": product.status,
        "kind": product.kind,
        "tax_class": product.tax_class,
        "category_id": product.category_id,
        "featured": product.featured,
        "tags": sorted(tag.id for tag in product.tags),
    }
    for locale, text in product.translations.items():
        for name in ("title", "slug", "description", "meta_title", "meta_description"):
            snapshot[f"{locale}.{name}"] = getattr(text, name)
    return snapshot


@dataclass(frozen=True)
class Completeness:
    """How much of one language's shopper-facing text is filled in."""

    locale: str
    checks: tuple[tuple[str, bool], ...]

    @property
    def done(self) -> int:
        return sum(ok for _, ok in self.checks)

    @property
    def percent(self) -> int:
        return round(100 * self.done / len(self.checks))

    @property
    def missing(self) -> list[str]:
        return [name for name, ok in self.checks if not ok]


COMPLETENESS_CHECKS = (
    "title",
    "description",
    "meta_title",
    "meta_description",
    "slug",
    "image_alt",
)


def completeness(
    texts: Mapping[str, Mapping[str, str]], alts: Mapping[str, list[str]]
) -> dict[str, Completeness]:
    """Per language: title, description, meta title and description, slug, and an alt text
    on every image (with at least one image)."""
    result = {}
    for locale in LOCALES:
        text = texts.get(locale) or {}
        locale_alts = alts.get(locale, [])
        checks = (
            ("title", bool((text.get("title") or "").strip())),
            ("description", bool(plain_text(text.get("description") or ""))),
            ("meta_title", bool((text.get("meta_title") or "").strip())),
            ("meta_description", bool((text.get("meta_description") or "").strip())),
            ("slug", bool((text.get("slug") or "").strip() or (text.get("title") or "").strip())),
            ("image_alt", bool(locale_alts) and all(a.strip() for a in locale_alts)),
        )
        result[locale] = Completeness(locale, checks)
    return result


def saved_texts(product: Product) -> dict[str, dict[str, str]]:
    return {
        locale: {
            "title": text.title,
            "slug": text.slug,
            "description": text.description,
            "meta_title": text.meta_title,
            "meta_description": text.meta_description,
        }
        for locale, text in product.translations.items()
    }


def image_alts(product_images: Iterable[ProductImage]) -> dict[str, list[str]]:
    listed = list(product_images)
    return {locale: [image.alt(locale) for image in listed] for locale in LOCALES}


@dataclass(frozen=True)
class ProductInput:
    texts: Mapping[str, Text | None]  # None: nothing in that language
    kind: str = ProductKind.PHYSICAL
    status: str = ProductStatus.DRAFT
    tax_class: str = TaxClass.STANDARD
    category_id: int | None = None
    tag_ids: tuple[int, ...] = ()
    featured: bool = False


def publishing_problems(
    texts: Mapping[str, Text | ProductTranslation | None], active_variants: int
) -> list[CatalogueError]:
    """Why a product cannot be active: French title and description (the Québec rule: French
    at least equivalent), and a variant to sell."""
    problems: list[CatalogueError] = []
    french = texts.get("fr")
    if french is None or not french.title.strip():
        problems.append(FrenchTitleMissing())
    if french is None or not plain_text(french.description):
        problems.append(FrenchDescriptionMissing())
    if active_variants == 0:
        problems.append(NoVariant())
    return problems


def _check_product_input(data: ProductInput, product: Product | None) -> list[CatalogueError]:
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
    first: dict[str | None, CatalogueError] = {}
    for error in errors:
        first.setdefault(getattr(error, "field", None), error)
    return list(first.values())


def _tags(ids: Iterable[int]) -> list[Tag]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    found = list(db.session.execute(select(Tag).where(Tag.id.in_(wanted))).scalars())
    if len(found) != len(wanted):
        raise InvalidChoice(field="tags")
    return found


def save_product(
    product_id: int | None, data: ProductInput, *, created: Created[Product] = None
) -> Product:
    """Create (``product_id`` None) or update a product with its texts, all or nothing."""
    product = load_product(product_id) if product_id is not None else None
    _refuse(_check_product_input(data, product))
    try:
        tags = _tags(data.tag_ids)
        if product is None:
            product = Product()
            db.session.add(product)
        was_active = product.status == ProductStatus.ACTIVE
        product.kind = data.kind
        product.status = data.status
        product.tax_class = data.tax_class
        product.category_id = data.category_id
        product.featured = data.featured
        product.tags = tags
        if data.status == ProductStatus.ACTIVE and not was_active:
            product.published_at = product.published_at or utcnow()
        product.updated_at = utcnow()
        db.session.flush()
        for locale in LOCALES:
            if (text := data.texts.get(locale)) is not None:
                try:
                    services.set_product_text(product, locale, text)
                except SlugTaken as error:
                    raise SlugInUse(field=f"{locale}-slug") from error
        db.session.flush()
        if created is not None and product_id is None:
            created(product)
    except CatalogueError:
        db.session.rollback()
        raise
    _commit()
    return product


def set_status(product_id: int, status: str) -> Product:
    """Publish (with the publishing rules), archive or return a product to draft."""
    product = load_product(product_id)
    if status not in ProductStatus.ALL:
        raise InvalidChoice(field="status")
    if status == ProductStatus.ACTIVE:
        _refuse(
            publishing_problems(product.translations, sum(v.is_active for v in product.variants))
        )
        product.published_at = product.published_at or utcnow()
    product.status = status
    product.updated_at = utcnow()
    _commit()
    return product


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (id, title shown)


def bulk_snapshot(product_ids: Iterable[int]) -> dict[str, Any]:
    """Status and tags of each product, keyed by id: the audit diff names only those changed."""
    ids = sorted(set(product_ids))
    rows = db.session.execute(
        select(Product.id, Product.status, product_tags.c.tag_id)
        .outerjoin(product_tags, product_tags.c.product_id == Product.id)
        .where(Product.id.in_(ids))
    ).all()
    snapshot: dict[str, Any] = {}
    for product_id, status, tag_id in rows:
        entry = snapshot.setdefault(str(product_id), {"status": status, "tags": []})
        if tag_id is not None:
            entry["tags"] = sorted([*entry["tags"], tag_id])
    return snapshot


def _bulk_products(product_ids: Iterable[int]) -> list[Product]:
    ids = sorted(set(product_ids))
    found = list(
        db.session.execute(
            select(Product)
            .where(Product.id.in_(ids))
            .order_by(Product.id)
            .options(
                selectinload(Product.translations),
                selectinload(Product.variants),
                selectinload(Product.tags),
            )
        ).scalars()
    )
    if not found:
        raise NotFound(ids)
    return found


def display_title(product: Product, locale: str) -> str:
    for code in (locale, *LOCALES):
        if (text := product.translations.get(code)) and text.title:
            return text.title
    return f"#{product.id}"


def bulk_publish(product_ids: Iterable[int], locale: str) -> BulkResult:
    """Publish every product that may be; the others are named, and left as they are."""
    result = BulkResult()
    for product in _bulk_products(product_ids):
        active = sum(v.is_active for v in product.variants)
        if publishing_problems(product.translations, active):
            result.refused.append((product.id, display_title(product, locale)))
            continue
        if product.status != ProductStatus.ACTIVE:
            product.status = ProductStatus.ACTIVE
            product.published_at = product.published_at or utcnow()
            product.updated_at = utcnow()
        result.done.append(product.id)
    if not result.done:
        raise NothingPublished(result.refused)
    _commit()
    return result


def bulk_archive(product_ids: Iterable[int]) -> BulkResult:
    result = BulkResult()
    for product in _bulk_products(product_ids):
        if product.status != ProductStatus.ARCHIVED:
            product.status = ProductStatus.ARCHIVED
            product.updated_at = utcnow()
        result.done.append(product.id)
    if result.done:
        _commit()
    return result


def bulk_add_tag(product_ids: Iterable[int], tag_id: int) -> BulkResult:
    tag = db.session.get(Tag, tag_id)
    if tag is None:
        raise InvalidChoice(field="tag_id")
    result = BulkResult()
    for product in _bulk_products(product_ids):
        if tag not in product.tags:
            product.tags.append(tag)
            product.updated_at = utcnow()
        result.done.append(product.id)
    if result.done:
        _commit()
    return result


# -- variants ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantInput:
    sku: str
    price: int
    compare_at_price: int | None = None
    barcode: str | None = None
    options: list[dict[str, Any]] = field(default_factory=list)
    track_inventory: bool = True
    weight_grams: int | None = None


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


def _check_variant(data: VariantInput, except_variant_id: int | None) -> list[CatalogueError]:
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


def _commit_variant() -> None:
    """Commit; a SKU taken in the meantime by another session is the same refusal."""
    try:
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        raise SkuTaken() from error
    cache.catalogue_changed()


def create_variant(
    product_id: int, data: VariantInput, *, created: Created[ProductVariant] = None
) -> ProductVariant:
    product = load_product(product_id)
    _refuse(_check_variant(data, None))
    position = max((v.position for v in product.variants), default=-1) + 1
    variant = services.add_variant(
        product,
        sku=data.sku.strip(),
        price=data.price,
        compare_at_price=data.compare_at_price,
        options=data.options,
        barcode=data.barcode or None,
        track_inventory=data.track_inventory,
        position=position,
        commit=False,
    )
    variant.weight_grams = data.weight_grams
    product.updated_at = utcnow()
    if created is not None:
        created(variant)
    _commit_variant()
    return variant


def load_variant(variant_id: int) -> ProductVariant:
    variant = db.session.get(ProductVariant, variant_id)
    if variant is None:
        raise NotFound(variant_id)
    return variant


def update_variant(variant_id: int, data: VariantInput) -> ProductVariant:
    """Edit a variant; a new price goes through the price history (EU Omnibus reference)."""
    variant = load_variant(variant_id)
    _refuse(_check_variant(data, variant.id))
    if data.price != variant.price or data.compare_at_price != variant.compare_at_price:
        services.change_price(variant.id, data.price, data.compare_at_price, commit=False)
    variant.sku = data.sku.strip()
    variant.barcode = data.barcode or None
    variant.options = data.options
    variant.track_inventory = data.track_inventory
    variant.weight_grams = data.weight_grams
    variant.product.updated_at = utcnow()
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
            | exists().where(OrderLine.variant_id == variant.id)
        )
    ).scalar()
    if used:
        variant.is_active = False
    else:
        product.variants.remove(variant)
        db.session.delete(variant)
        db.session.flush()
    services.refresh_min_price(product)
    product.updated_at = utcnow()
    _commit()
    return not used


# -- images ------------------------------------------------------------------------------


def image_snapshot(image: ProductImage) -> dict[str, Any]:
    return {
        "product_id": image.product_id,
        "position": image.position,
        "path": image.path,
        "alt_fr": image.alt_fr,
        "alt_en": image.alt_en,
    }


def upload_image(
    product_id: int,
    stream: BinaryIO,
    *,
    alt_fr: str,
    alt_en: str,
    created: Created[ProductImage] = None,
) -> ProductImage:
    """Checked by content before anything is written; renditions are made by the job."""
    load_product(product_id)
    image = images.add_product_image(product_id, stream, alt_fr=alt_fr, alt_en=alt_en, commit=False)
    if created is not None:
        created(image)
    _commit()
    return image


def load_image(image_id: int) -> ProductImage:
    image = db.session.get(ProductImage, image_id)
    if image is None:
        raise NotFound(image_id)
    return image


def move_image(image_id: int, offset: int) -> ProductImage:
    """Swap the image with its neighbour (``offset`` -1: earlier, +1: later)."""
    image = load_image(image_id)
    siblings = list(
        db.session.execute(
            select(ProductImage)
            .where(ProductImage.product_id == image.product_id)
            .order_by(ProductImage.position, ProductImage.id)
            .with_for_update()
        ).scalars()
    )
    index = siblings.index(image)
    target = index + offset
    if 0 <= target < len(siblings):
        siblings[index], siblings[target] = siblings[target], siblings[index]
    for position, sibling in enumerate(siblings):
        sibling.position = position
    _commit()
    return image


def set_image_alt(image_id: int, *, alt_fr: str, alt_en: str) -> ProductImage:
    image = load_image(image_id)
    image.alt_fr = alt_fr.strip()[: images.ALT_MAX_LENGTH]
    image.alt_en = alt_en.strip()[: images.ALT_MAX_LENGTH]
    _commit()
    return image


def delete_image(image_id: int) -> None:
    """Remove the image; its files go too unless another row shares them (the demo does)."""
    image = load_image(image_id)
    path, renditions = image.path, dict(image.renditions or {})
    db.session.delete(image)
    db.session.flush()
    shared = db.session.execute(select(exists().where(ProductImage.path == path))).scalar()
    _commit()
    if not shared:
        root = images.media_root()
        files = [path] + [p for formats in renditions.values() for p in formats.values()]
        for relpath in files:
            (root / relpath).unlink(missing_ok=True)


# -- categories --------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryText:
    name: str
    slug: str = ""
    description: str = ""
    meta_title: str = ""
    meta_description: str = ""


@dataclass(frozen=True)
class CategoryInput:
    texts: Mapping[str, CategoryText]
    parent_id: int | None = None
    position: int = 0
    featured: bool = False


def load_category(category_id: int) -> Category:
    category = db.session.execute(
        select(Category)
        .where(Category.id == category_id)
        .options(selectinload(Category.translations))
    ).scalar_one_or_none()
    if category is None:
        raise NotFound(category_id)
    return category


def descendant_ids(category_id: int) -> set[int]:
    """The category and everything below it."""
    tree = _subtree(category_id)
    return set(db.session.execute(select(tree.c.id)).scalars())


def category_snapshot(category: Category) -> dict[str, Any]:
    snapshot: dict[str, Any] = {
        "parent_id": category.parent_id,
        "position": category.position,
        "featured": category.featured,
    }
    for locale, text in category.translations.items():
        for name in ("name", "slug", "description", "meta_title", "meta_description"):
            snapshot[f"{locale}.{name}"] = getattr(text, name)
    return snapshot


def save_category(
    category_id: int | None, data: CategoryInput, *, created: Created[Category] = None
) -> Category:
    category = load_category(category_id) if category_id is not None else None
    errors: list[CatalogueError] = []
    for locale in LOCALES:
        text = data.texts.get(locale)
        if text is None or not text.name.strip():
            errors.append(NameMissing(field=f"{locale}-name"))
    if data.parent_id is not None:
        if db.session.get(Category, data.parent_id) is None:
            errors.append(InvalidChoice(field="parent_id"))
        elif category is not None and data.parent_id in descendant_ids(category.id):
            errors.append(CategoryCycle())
    _refuse(errors)
    try:
        if category is None:
            category = Category()
            db.session.add(category)
        category.parent_id = data.parent_id
        category.position = data.position
        category.featured = data.featured
        category.updated_at = utcnow()
        db.session.flush()
        for locale in LOCALES:
            text = data.texts[locale]
            current = category.translations.get(locale)
            slug = _translated_slug(
                CategoryTranslation, "category_id", "category", category.id, locale, text, current
            )
            values = {
                "name": text.name.strip(),
                "slug": slug,
                "description": sanitize_description(text.description),
                "meta_title": text.meta_title.strip(),
                "meta_description": text.meta_description.strip(),
            }
            if current is None:
                category.translations[locale] = CategoryTranslation(locale=locale, **values)
            else:
                for key, value in values.items():
                    setattr(current, key, value)
            db.session.flush()
        if created is not None and category_id is None:
            created(category)
    except CatalogueError:
        db.session.rollback()
        raise
    _commit()
    return category


def _translated_slug(
    model: type, owner: str, kind: str, owner_id: int, locale: str, text: Any, current: Any
) -> str:
    """The slug to store: the one asked for (refused if taken), else the current one, else one
    made from the name. A change leaves a 301 behind."""
    wanted = (text.slug or "").strip()
    if wanted:
        slug = slugify(wanted)
        clash = db.session.execute(
            select(model.id).where(
                model.locale == locale, model.slug == slug, getattr(model, owner) != owner_id
            )
        ).first()
        if clash:
            raise SlugInUse(field=f"{locale}-slug")
    elif current is not None:
        return current.slug
    else:
        slug = services._unique_slug(model, locale, slugify(text.name), owner_id, owner)
    if current is not None and current.slug != slug:
        prefix = PATHS[kind][locale]
        record_redirect(prefix + current.slug, prefix + slug)
    return slug


def delete_category(category_id: int) -> None:
    category = load_category(category_id)
    has_children = db.session.execute(
        select(exists().where(Category.parent_id == category.id))
    ).scalar()
    has_products = db.session.execute(
        select(exists().where(Product.category_id == category.id))
    ).scalar()
    if has_children or has_products:
        raise CategoryNotEmpty()
    db.session.delete(category)
    _commit()


# -- tags --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagText:
    name: str
    slug: str = ""


def load_tag(tag_id: int) -> Tag:
    tag = db.session.execute(
        select(Tag).where(Tag.id == tag_id).options(selectinload(Tag.translations))
    ).scalar_one_or_none()
    if tag is None:
        raise NotFound(tag_id)
    return tag


def tag_snapshot(tag: Tag) -> dict[str, Any]:
    snapshot: dict[str, Any] = {}
    for locale, text in tag.translations.items():
        snapshot[f"{locale}.name"] = text.name
        snapshot[f"{locale}.slug"] = text.slug
    return snapshot


def save_tag(
    tag_id: int | None, texts: Mapping[str, TagText], *, created: Created[Tag] = None
) -> Tag:
    tag = load_tag(tag_id) if tag_id is not None else None
    _refuse(
        [
            NameMissing(field=f"{locale}-name")
            for locale in LOCALES
            if texts.get(locale) is None or not texts[locale].name.strip()
        ]
    )
    try:
        if tag is None:
            tag = Tag()
            db.session.add(tag)
        tag.updated_at = utcnow()
        db.session.flush()
        for locale in LOCALES:
            text = texts[locale]
            current = tag.translations.get(locale)
            slug = _translated_slug(TagTranslation, "tag_id", "tag", tag.id, locale, text, current)
            if current is None:
                tag.translations[locale] = TagTranslation(
                    locale=locale, name=text.name.strip(), slug=slug
                )
            else:
                current.name = text.name.strip()
                current.slug = slug
            db.session.flush()
        if created is not None and tag_id is None:
            created(tag)
    except CatalogueError:
        db.session.rollback()
        raise
    _commit()
    return tag


def delete_tag(tag_id: int) -> None:
    tag = load_tag(tag_id)
    db.session.delete(tag)
    _commit()


def tag_rows(locale: str) -> list[tuple[Tag, int]]:
    """Every tag with its translations and the number of products carrying it."""
    counts = (
        select(func.count()).where(product_tags.c.tag_id == Tag.id).correlate(Tag).scalar_subquery()
    )
    rows = db.session.execute(
        select(Tag, counts).options(selectinload(Tag.translations)).order_by(Tag.id)
    ).all()
    return sorted(
        ((tag, count) for tag, count in rows),
        key=lambda row: (
            row[0].translations.get(locale).name.lower() if locale in row[0].translations else ""
        ),
    )


def category_rows(locale: str) -> list[tuple[Category, int, int]]:
    """Every category (translations loaded) in tree order, with its depth and product count."""
    counts = (
        select(func.count())
        .where(Product.category_id == Category.id)
        .correlate(Category)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Category, counts).options(selectinload(Category.translations))
    ).all()
    by_id = {category.id: (category, count) for category, count in rows}
    return [
        (by_id[category_id][0], depth, by_id[category_id][1])
        for category_id, _name, depth in category_choices(locale)
        if category_id in by_id
    ]
