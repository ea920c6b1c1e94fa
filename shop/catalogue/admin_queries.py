"""Back-office catalogue reads: the staff product list (one query whatever the page or
catalogue size), choices for forms, stock per variant, and how complete a product's texts are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.orm import aliased, selectinload

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
    product_tags,
)
from shop.catalogue.text import plain_text
from shop.config import LOCALES
from shop.extensions import db
from shop.inventory.models import InventoryItem

PAGE_SIZE = 50
SORTS = ("updated", "title", "price_asc", "price_desc", "created")
STOCK_STATES = ("in_stock", "low", "out")
LOW_STOCK_DEFAULT = 3  # the shop default when LOW_STOCK_THRESHOLD is not set


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


def stock_by_variant(variant_ids: Iterable[int]) -> dict[int, InventoryItem]:
    ids = list(variant_ids)
    if not ids:
        return {}
    items = db.session.execute(
        select(InventoryItem).where(InventoryItem.variant_id.in_(ids))
    ).scalars()
    return {item.variant_id: item for item in items}


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


def descendant_ids(category_id: int) -> set[int]:
    """The category and everything below it."""
    tree = _subtree(category_id)
    return set(db.session.execute(select(tree.c.id)).scalars())


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


# -- images to share (Open Graph) --------------------------------------------------------

OG_IMAGE_CHOICES = 24


def og_image_candidates(
    kind: str, item_id: int | None, current_id: int | None = None
) -> list[ProductImage]:
    """Images a category or tag may be shared with: those of the products it lists (its
    subcategories' too), the most recent products first, and the image chosen already."""
    found: list[ProductImage] = []
    if item_id is not None:
        if kind == "category":
            listed = Product.category_id.in_(select(_subtree(item_id).c.id))
        else:
            listed = Product.id.in_(
                select(product_tags.c.product_id).where(product_tags.c.tag_id == item_id)
            )
        found = list(
            db.session.execute(
                select(ProductImage)
                .join(Product, Product.id == ProductImage.product_id)
                .where(listed)
                .order_by(Product.id.desc(), ProductImage.position, ProductImage.id)
                .limit(OG_IMAGE_CHOICES)
            ).scalars()
        )
    if current_id is not None and current_id not in {image.id for image in found}:
        current = db.session.get(ProductImage, current_id)
        if current is not None:
            found.insert(0, current)
    return found
