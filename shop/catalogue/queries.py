"""Catalogue reads for the storefront: a fixed, small number of queries per page.

Each function returns plain data for one page; none of them depends on the size of the page
or of the catalogue for its number of queries.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, exists, func, literal_column, or_, select
from sqlalchemy.orm import aliased

from shop.catalogue.models import (
    Category,
    CategoryTranslation,
    Product,
    ProductImage,
    ProductStatus,
    ProductTranslation,
    ProductVariant,
    Tag,
    TagTranslation,
    product_tags,
)
from shop.extensions import db
from shop.inventory.models import InventoryItem

PAGE_SIZE = 24
HOME_FEATURED = 8  # four rows on a phone, two on a laptop: the home page stays short
SORTS = ("relevance", "price_asc", "price_desc", "newest")
SEARCH_CONFIG = {"fr": "fr_unaccent", "en": "en_unaccent"}
_WORD = re.compile(r"\w+", re.UNICODE)


class PageOutOfRange(LookupError):
    """A page number past the last page."""


@dataclass(frozen=True)
class ListingFilters:
    tags: tuple[str, ...] = ()
    min_price: int | None = None  # minor units
    max_price: int | None = None
    in_stock: bool = False
    sort: str = "relevance"
    page: int = 1

    @property
    def narrowed(self) -> bool:
        """Filtered or re-sorted: a variant of the listing, not the listing itself."""
        return bool(
            self.tags
            or self.min_price is not None
            or self.max_price is not None
            or self.in_stock
            or self.sort != "relevance"
        )

    @property
    def active_count(self) -> int:
        """The filters in force (each tag, each price bound, stock); the sort is not one."""
        bounds = (self.min_price, self.max_price)
        return len(self.tags) + sum(b is not None for b in bounds) + int(self.in_stock)

    @property
    def inverted(self) -> bool:
        return (
            self.min_price is not None
            and self.max_price is not None
            and self.min_price > self.max_price
        )


@dataclass
class Card:
    id: int
    title: str
    slug: str
    price: int
    compare_at_price: int | None
    reference_price: int | None  # lowest price of the 30 days before the current one
    available: bool
    variant_count: int
    image: ProductImage | None = None


@dataclass
class Listing:
    cards: list[Card]
    total: int
    page: int
    page_size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


@dataclass
class CategoryView:
    category: Category
    translations: dict[str, CategoryTranslation]
    ancestors: list[tuple[str, str]] = field(default_factory=list)  # (name, slug), root first
    children: list[tuple[str, str]] = field(default_factory=list)
    og_image: ProductImage | None = None  # the image it is shared with, when one was chosen


@dataclass
class TagView:
    tag: Tag
    translations: dict[str, TagTranslation]
    og_image: ProductImage | None = None


# -- building blocks ---------------------------------------------------------------------


def _variant_available():
    """SQL: this variant can be bought now (untracked, or stock left after holds)."""
    return or_(
        ProductVariant.track_inventory.is_(False),
        exists().where(
            InventoryItem.variant_id == ProductVariant.id,
            InventoryItem.on_hand - InventoryItem.reserved > 0,
        ),
    )


def _product_available():
    return (
        exists()
        .where(
            ProductVariant.product_id == Product.id,
            ProductVariant.is_active.is_(True),
            _variant_available(),
        )
        .correlate(Product)
    )


def _cheapest_variant_column(column):
    return (
        select(column)
        .where(
            ProductVariant.product_id == Product.id,
            ProductVariant.is_active.is_(True),
            ProductVariant.price == Product.min_price,
        )
        .order_by(ProductVariant.position, ProductVariant.id)
        .limit(1)
        .correlate(Product)
        .scalar_subquery()
    )


def _tag_filter(locale: str, slugs: tuple[str, ...]):
    return Product.id.in_(
        select(product_tags.c.product_id)
        .join(TagTranslation, TagTranslation.tag_id == product_tags.c.tag_id)
        .where(TagTranslation.locale == locale, TagTranslation.slug.in_(slugs))
    )


def search_terms(q: str) -> list[str]:
    """Words only: no operator of the query language ever reaches the database."""
    return [w.lower() for w in _WORD.findall(q or "")][:8]


def _listing(
    locale: str,
    filters: ListingFilters,
    *conditions,
    rank=None,
    page_size: int = PAGE_SIZE,
) -> Listing:
    if filters.inverted:
        return Listing([], 0, filters.page)
    title = ProductTranslation
    where = [Product.status == ProductStatus.ACTIVE, *conditions]
    if filters.tags:
        where.append(_tag_filter(locale, filters.tags))
    if filters.min_price is not None:
        where.append(Product.min_price >= filters.min_price)
    if filters.max_price is not None:
        where.append(Product.min_price <= filters.max_price)
    if filters.in_stock:
        where.append(_product_available())
    order = {
        "price_asc": [Product.min_price.asc(), Product.id],
        "price_desc": [Product.min_price.desc(), Product.id],
        "newest": [Product.published_at.desc(), Product.id.desc()],
    }.get(filters.sort)
    if order is None:  # relevance
        order = ([rank.desc()] if rank is not None else []) + [
            Product.featured.desc(),
            Product.published_at.desc(),
            Product.id.desc(),
        ]
    page_ids = (
        select(Product.id, func.count().over().label("total"))
        .join(title, and_(title.product_id == Product.id, title.locale == locale))
        .where(*where)
        .order_by(*order)
        .limit(page_size)
        .offset((filters.page - 1) * page_size)
        .cte("page_ids")
    )
    variant_count = (
        select(func.count())
        .where(ProductVariant.product_id == Product.id, ProductVariant.is_active.is_(True))
        .correlate(Product)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(
            Product.id,
            title.title,
            title.slug,
            Product.min_price,
            _cheapest_variant_column(ProductVariant.compare_at_price),
            _cheapest_variant_column(ProductVariant.lowest_prior_price),
            _product_available(),
            variant_count,
            page_ids.c.total,
        )
        .select_from(page_ids)
        .join(Product, Product.id == page_ids.c.id)
        .join(title, and_(title.product_id == Product.id, title.locale == locale))
        .order_by(*order)
    ).all()
    if not rows:
        if filters.page > 1:
            raise PageOutOfRange(filters.page)
        return Listing([], 0, 1)
    cards = [
        Card(
            id=r[0],
            title=r[1],
            slug=r[2],
            price=r[3],
            compare_at_price=r[4],
            reference_price=r[5],
            available=bool(r[6]),
            variant_count=r[7],
        )
        for r in rows
    ]
    _attach_first_images(cards)
    return Listing(cards, rows[0][8], filters.page, page_size)


def _attach_first_images(cards: list[Card]) -> None:
    if not cards:
        return
    images = db.session.execute(
        select(ProductImage)
        .where(ProductImage.product_id.in_([c.id for c in cards]))
        .order_by(ProductImage.product_id, ProductImage.position, ProductImage.id)
    ).scalars()
    first: dict[int, ProductImage] = {}
    for image in images:
        first.setdefault(image.product_id, image)
    for card in cards:
        card.image = first.get(card.id)


# -- pages -------------------------------------------------------------------------------


@dataclass
class HomeCategory:
    name: str
    slug: str
    description: str
    image: ProductImage | None = None  # its shared picture, else one of its products'


def home(locale: str) -> tuple[list[HomeCategory], Listing]:
    """Featured top categories, each with a picture, and the first ``HOME_FEATURED``
    featured products in stock.

    A category's picture is the image it is shared with (``og_image``), else the first
    picture of one of its products or its subcategories' (featured products first): one
    more query, whatever the number of categories, when some have no shared image."""
    rows = db.session.execute(
        select(
            Category.id,
            CategoryTranslation.name,
            CategoryTranslation.slug,
            CategoryTranslation.description,
            ProductImage,
        )
        .join(Category, Category.id == CategoryTranslation.category_id)
        .outerjoin(ProductImage, ProductImage.id == Category.og_image_id)
        .where(
            CategoryTranslation.locale == locale,
            Category.featured.is_(True),
            Category.parent_id.is_(None),
        )
        .order_by(Category.position, Category.id)
    ).all()
    pictures = {r[0]: r[4] for r in rows if r[4] is not None}
    pictures.update(_product_pictures([r[0] for r in rows if r[4] is None]))
    categories = [HomeCategory(r[1], r[2], r[3], pictures.get(r[0])) for r in rows]
    featured = _listing(
        locale,
        ListingFilters(in_stock=True),
        Product.featured.is_(True),
        page_size=HOME_FEATURED,
    )
    return categories, featured


def _product_pictures(category_ids: list[int]) -> dict[int, ProductImage]:
    """{top category id: the first picture of its products or its subcategories'}, featured
    products first; one query."""
    if not category_ids:
        return {}
    root = func.coalesce(Category.parent_id, Category.id)
    ranked = (
        select(
            ProductImage.id.label("image_id"),
            root.label("root_id"),
            func.row_number()
            .over(
                partition_by=root,
                order_by=(Product.featured.desc(), Product.id, ProductImage.position),
            )
            .label("rank"),
        )
        .join(Product, Product.id == ProductImage.product_id)
        .join(Category, Category.id == Product.category_id)
        .where(Product.status == ProductStatus.ACTIVE, root.in_(category_ids))
        .subquery()
    )
    rows = db.session.execute(
        select(ranked.c.root_id, ProductImage)
        .join(ranked, ranked.c.image_id == ProductImage.id)
        .where(ranked.c.rank == 1)
    ).all()
    return {root_id: image for root_id, image in rows}


def top_categories(locale: str) -> list[tuple[str, str]]:
    """Root categories (name, slug) for the site navigation."""
    rows = db.session.execute(
        select(CategoryTranslation.name, CategoryTranslation.slug)
        .join(Category, Category.id == CategoryTranslation.category_id)
        .where(CategoryTranslation.locale == locale, Category.parent_id.is_(None))
        .order_by(Category.position, Category.id)
    ).all()
    return [tuple(r) for r in rows]


def category(locale: str, slug: str) -> CategoryView | None:
    """The category with both translations, its ancestors and children (names in ``locale``)."""
    this = aliased(CategoryTranslation)
    wanted = (
        select(this.category_id).where(this.locale == locale, this.slug == slug).scalar_subquery()
    )
    rows = db.session.execute(
        select(CategoryTranslation, Category, ProductImage)
        .join(Category, Category.id == CategoryTranslation.category_id)
        .outerjoin(ProductImage, ProductImage.id == Category.og_image_id)
        .where(CategoryTranslation.category_id == wanted)
    ).all()
    if not rows:
        return None
    found, og_image = rows[0][1], rows[0][2]
    translations = {t.locale: t for t, _, _ in rows}
    family = db.session.execute(
        select(Category.id, Category.parent_id, CategoryTranslation.name, CategoryTranslation.slug)
        .join(CategoryTranslation, CategoryTranslation.category_id == Category.id)
        .where(
            CategoryTranslation.locale == locale,
            or_(Category.parent_id == found.id, Category.id == found.parent_id),
        )
        .order_by(Category.position, Category.id)
    ).all()
    ancestors = [(r.name, r.slug) for r in family if r.id == found.parent_id]
    children = [(r.name, r.slug) for r in family if r.parent_id == found.id]
    return CategoryView(found, translations, ancestors, children, og_image)


def category_listing(locale: str, category_id: int, filters: ListingFilters) -> Listing:
    tree = select(Category.id).where(Category.id == category_id).cte("tree", recursive=True)
    tree = tree.union_all(select(Category.id).where(Category.parent_id == tree.c.id))
    return _listing(locale, filters, Product.category_id.in_(select(tree.c.id)))


def tags_for_category(locale: str, category_id: int) -> list[tuple[str, str]]:
    """Tags of the active products in this category tree: (name, slug), for the filters."""
    tree = select(Category.id).where(Category.id == category_id).cte("ftree", recursive=True)
    tree = tree.union_all(select(Category.id).where(Category.parent_id == tree.c.id))
    rows = db.session.execute(
        select(TagTranslation.name, TagTranslation.slug)
        .where(
            TagTranslation.locale == locale,
            TagTranslation.tag_id.in_(
                select(product_tags.c.tag_id)
                .join(Product, Product.id == product_tags.c.product_id)
                .where(
                    Product.status == ProductStatus.ACTIVE,
                    Product.category_id.in_(select(tree.c.id)),
                )
            ),
        )
        .order_by(TagTranslation.name)
    ).all()
    return [tuple(r) for r in rows]


def tag(locale: str, slug: str) -> TagView | None:
    """The tag with both translations and its shared image, in one query."""
    this = aliased(TagTranslation)
    wanted = select(this.tag_id).where(this.locale == locale, this.slug == slug).scalar_subquery()
    rows = db.session.execute(
        select(TagTranslation, Tag, ProductImage)
        .join(Tag, Tag.id == TagTranslation.tag_id)
        .outerjoin(ProductImage, ProductImage.id == Tag.og_image_id)
        .where(TagTranslation.tag_id == wanted)
    ).all()
    if not rows:
        return None
    return TagView(rows[0][1], {t.locale: t for t, _, _ in rows}, rows[0][2])


def tag_listing(locale: str, tag_id: int, filters: ListingFilters) -> Listing:
    return _listing(
        locale,
        filters,
        Product.id.in_(select(product_tags.c.product_id).where(product_tags.c.tag_id == tag_id)),
    )


def search(locale: str, q: str, filters: ListingFilters, *, dialect: str) -> Listing:
    terms = search_terms(q)
    if not terms:
        return Listing([], 0, 1)
    if dialect == "postgresql":
        config = literal_column(f"'{SEARCH_CONFIG[locale]}'::regconfig")  # from a fixed map
        query = func.to_tsquery(config, " & ".join(f"{t}:*" for t in terms))
        matched = ProductTranslation.search_vector.op("@@")(query)
        rank = func.ts_rank(ProductTranslation.search_vector, query)
        return _listing(locale, filters, matched, rank=rank)
    # SQLite (embedded default): every word somewhere in the title or description.
    likes = [
        or_(
            ProductTranslation.title.ilike(f"%{t}%"), ProductTranslation.description.ilike(f"%{t}%")
        )
        for t in terms
    ]
    return _listing(locale, filters, *likes)


@dataclass
class ProductView:
    product: Product
    translations: dict[str, ProductTranslation]
    variants: list[ProductVariant]
    available: dict[int, int | None]  # variant id -> units available (None: not tracked)
    images: list[ProductImage]
    crumbs: list[tuple[str, str]]  # category (name, slug), root first
    tags: list[tuple[str, str]]


def product(locale: str, slug: str) -> ProductView | None:
    this = aliased(ProductTranslation)
    wanted = (
        select(this.product_id).where(this.locale == locale, this.slug == slug).scalar_subquery()
    )
    rows = db.session.execute(
        select(ProductTranslation, Product)
        .join(Product, Product.id == ProductTranslation.product_id)
        .where(ProductTranslation.product_id == wanted, Product.status == ProductStatus.ACTIVE)
    ).all()
    if not rows:
        return None
    found = rows[0][1]
    translations = {t.locale: t for t, _ in rows}
    variant_rows = db.session.execute(
        select(ProductVariant, InventoryItem.on_hand - InventoryItem.reserved)
        .outerjoin(InventoryItem, InventoryItem.variant_id == ProductVariant.id)
        .where(ProductVariant.product_id == found.id, ProductVariant.is_active.is_(True))
        .order_by(ProductVariant.position, ProductVariant.id)
    ).all()
    variants = [v for v, _ in variant_rows]
    available = {
        v.id: (None if not v.track_inventory else max(left or 0, 0)) for v, left in variant_rows
    }
    images = list(
        db.session.execute(
            select(ProductImage)
            .where(ProductImage.product_id == found.id)
            .order_by(ProductImage.position, ProductImage.id)
        ).scalars()
    )
    crumbs: list[tuple[str, str]] = []
    if found.category_id:
        parent = aliased(Category)
        crumb_rows = db.session.execute(
            select(Category.id, CategoryTranslation.name, CategoryTranslation.slug)
            .join(CategoryTranslation, CategoryTranslation.category_id == Category.id)
            .where(
                CategoryTranslation.locale == locale,
                or_(
                    Category.id == found.category_id,
                    Category.id.in_(select(parent.parent_id).where(parent.id == found.category_id)),
                ),
            )
        ).all()
        crumbs = [
            (r.name, r.slug)
            for r in sorted(crumb_rows, key=lambda r: r.id != found.category_id, reverse=True)
        ]
    tags = [
        tuple(r)
        for r in db.session.execute(
            select(TagTranslation.name, TagTranslation.slug)
            .join(product_tags, product_tags.c.tag_id == TagTranslation.tag_id)
            .where(product_tags.c.product_id == found.id, TagTranslation.locale == locale)
            .order_by(TagTranslation.name)
        ).all()
    ]
    return ProductView(found, translations, variants, available, images, crumbs, tags)


def last_change(*models: type) -> datetime | None:
    """Latest ``updated_at`` across models (sitemaps and Last-Modified)."""
    values = [db.session.execute(select(func.max(m.updated_at))).scalar() for m in models]
    values = [v for v in values if v is not None]
    return max(values) if values else None
