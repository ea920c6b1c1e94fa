"""Catalogue: products with per-locale text and slugs, variants, prices, images, categories, tags.

Text shown to shoppers lives in ``*_translations`` rows, one per locale, each with its own slug.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, attribute_keyed_dict, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from shop.clock import utcnow
from shop.extensions import db


class TSVector(TypeDecorator):
    """A PostgreSQL ``tsvector``; plain text (unused) on SQLite."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TSVECTOR())
        return dialect.type_descriptor(Text())


class ProductKind:
    PHYSICAL = "physical"
    DIGITAL = "digital"
    SERVICE = "service"
    ALL = (PHYSICAL, DIGITAL, SERVICE)


class ProductStatus:
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"
    ALL = (DRAFT, ACTIVE, ARCHIVED)


class TaxClass:
    STANDARD = "standard"
    REDUCED = "reduced"
    SUPER_REDUCED = "super_reduced"
    ZERO = "zero"
    ALL = (STANDARD, REDUCED, SUPER_REDUCED, ZERO)


product_tags = Table(
    "product_tags",
    db.Model.metadata,
    Column("product_id", ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_product_tags_tag_id", "tag_id", "product_id"),
)


CANONICAL_URL_LENGTH = 500


def og_image_column() -> Mapped[int | None]:
    """The picture shared on social networks (Open Graph): one of the shop's product images.

    ``use_alter``: products and categories are referred to by ``product_images`` (through
    its product), so this reference closes a cycle the schema breaks with a later ALTER.
    """
    return mapped_column(
        ForeignKey("product_images.id", ondelete="SET NULL", use_alter=True), default=None
    )


def noindex_column() -> Mapped[bool]:
    """Kept out of search engines (robots noindex, out of the sitemaps), still shown to
    shoppers. For the item in every language: its translations share one hreflang set."""
    return mapped_column(default=False, server_default=false())


def canonical_column() -> Mapped[str]:
    """This language's canonical address when it is not the page itself: an absolute http(s)
    URL or a path of the shop; empty for the page itself. Per language, since each language
    has its own address (a canonical across languages would drop one of them)."""
    return mapped_column(String(CANONICAL_URL_LENGTH), default="", server_default="")


class Category(db.Model):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    featured: Mapped[bool] = mapped_column(default=False)
    noindex: Mapped[bool] = noindex_column()
    og_image_id: Mapped[int | None] = og_image_column()
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        db.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    parent: Mapped[Category | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Category]] = relationship(
        back_populates="parent", order_by="Category.position"
    )
    translations: Mapped[dict[str, CategoryTranslation]] = relationship(
        collection_class=attribute_keyed_dict("locale"),
        cascade="all, delete-orphan",
        back_populates="category",
    )


class CategoryTranslation(db.Model):
    __tablename__ = "category_translations"
    __table_args__ = (
        UniqueConstraint("category_id", "locale"),
        UniqueConstraint("locale", "slug"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    locale: Mapped[str] = mapped_column(String(5))
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(140))
    description: Mapped[str] = mapped_column(Text, default="")
    meta_title: Mapped[str] = mapped_column(String(160), default="")
    meta_description: Mapped[str] = mapped_column(String(320), default="")
    canonical_url: Mapped[str] = canonical_column()

    category: Mapped[Category] = relationship(back_populates="translations")


class Tag(db.Model):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    noindex: Mapped[bool] = noindex_column()
    og_image_id: Mapped[int | None] = og_image_column()
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        db.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    translations: Mapped[dict[str, TagTranslation]] = relationship(
        collection_class=attribute_keyed_dict("locale"),
        cascade="all, delete-orphan",
        back_populates="tag",
    )


class TagTranslation(db.Model):
    __tablename__ = "tag_translations"
    __table_args__ = (UniqueConstraint("tag_id", "locale"), UniqueConstraint("locale", "slug"))

    id: Mapped[int] = mapped_column(primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"))
    locale: Mapped[str] = mapped_column(String(5))
    name: Mapped[str] = mapped_column(String(80))
    slug: Mapped[str] = mapped_column(String(100))
    meta_title: Mapped[str] = mapped_column(String(160), default="", server_default="")
    meta_description: Mapped[str] = mapped_column(String(320), default="", server_default="")
    canonical_url: Mapped[str] = canonical_column()

    tag: Mapped[Tag] = relationship(back_populates="translations")


class Product(db.Model):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint(f"kind IN {ProductKind.ALL!r}", name="kind_known"),
        CheckConstraint(f"status IN {ProductStatus.ALL!r}", name="status_known"),
        CheckConstraint(f"tax_class IN {TaxClass.ALL!r}", name="tax_class_known"),
        Index("ix_products_listing", "status", "category_id", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=ProductKind.PHYSICAL)
    status: Mapped[str] = mapped_column(String(16), default=ProductStatus.DRAFT)
    tax_class: Mapped[str] = mapped_column(String(16), default=TaxClass.STANDARD)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL")
    )
    featured: Mapped[bool] = mapped_column(default=False)
    noindex: Mapped[bool] = noindex_column()
    og_image_id: Mapped[int | None] = og_image_column()  # None: the first image
    # The cheapest active variant's price, kept by the catalogue services (prices change only
    # there) so listings can sort and filter by price on an index.
    min_price: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        db.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    published_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))

    category: Mapped[Category | None] = relationship()
    translations: Mapped[dict[str, ProductTranslation]] = relationship(
        collection_class=attribute_keyed_dict("locale"),
        cascade="all, delete-orphan",
        back_populates="product",
    )
    variants: Mapped[list[ProductVariant]] = relationship(
        back_populates="product", order_by="ProductVariant.position", cascade="all, delete-orphan"
    )
    images: Mapped[list[ProductImage]] = relationship(
        back_populates="product",
        order_by="ProductImage.position",
        cascade="all, delete-orphan",
        foreign_keys="ProductImage.product_id",
    )
    tags: Mapped[list[Tag]] = relationship(secondary=product_tags)


class ProductTranslation(db.Model):
    __tablename__ = "product_translations"
    __table_args__ = (
        UniqueConstraint("product_id", "locale"),
        UniqueConstraint("locale", "slug"),
        Index("ix_product_translations_search", "search_vector", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    locale: Mapped[str] = mapped_column(String(5))
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(220))
    description: Mapped[str] = mapped_column(Text, default="")  # sanitized HTML (nh3)
    meta_title: Mapped[str] = mapped_column(String(160), default="")
    meta_description: Mapped[str] = mapped_column(String(320), default="")
    canonical_url: Mapped[str] = canonical_column()
    # Filled on write from title (weight A) and description (weight B), PostgreSQL only.
    search_vector: Mapped[str | None] = mapped_column(TSVector())

    product: Mapped[Product] = relationship(back_populates="translations")


class ProductVariant(db.Model):
    __tablename__ = "product_variants"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint(
            "compare_at_price IS NULL OR compare_at_price > price", name="compare_at_above_price"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    barcode: Mapped[str | None] = mapped_column(String(32))
    price: Mapped[int] = mapped_column()  # minor units, tax included or not per store setting
    compare_at_price: Mapped[int | None] = mapped_column()
    # EU Omnibus: the lowest price in the 30 days before the current price took effect.
    # Fixed when the price changes, so it is stored with it.
    lowest_prior_price: Mapped[int | None] = mapped_column()
    price_since: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    # [{"name": {"fr": "Taille", "en": "Size"}, "value": {"fr": "Grand", "en": "Large"}}]
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    track_inventory: Mapped[bool] = mapped_column(default=True)
    weight_grams: Mapped[int | None] = mapped_column()

    product: Mapped[Product] = relationship(back_populates="variants")

    def option_label(self, locale: str) -> str:
        return option_label(self.options, locale)


def option_label(options: list[dict[str, Any]], locale: str) -> str:
    """A variant's options as shoppers read them ("Large / Oak"), from its ``options``."""
    return " / ".join(str(o["value"].get(locale, "")) for o in options)


class PriceHistory(db.Model):
    """Every price a variant has had, from when; the source of the Omnibus reference."""

    __tablename__ = "price_history"
    __table_args__ = (Index("ix_price_history_variant_started", "variant_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("product_variants.id", ondelete="CASCADE"))
    price: Mapped[int] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)


class ProductImage(db.Model):
    __tablename__ = "product_images"
    __table_args__ = (Index("ix_product_images_product_position", "product_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    path: Mapped[str] = mapped_column(String(255))  # original, relative to MEDIA_ROOT
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()
    alt_fr: Mapped[str] = mapped_column(String(200), default="")
    alt_en: Mapped[str] = mapped_column(String(200), default="")
    # {"320": {"webp": "products/1/abc-320.webp", "jpeg": "..."}, ...}; empty until the job ran.
    renditions: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)

    product: Mapped[Product] = relationship(back_populates="images", foreign_keys=[product_id])

    def alt(self, locale: str) -> str:
        return self.alt_fr if locale == "fr" else self.alt_en


class UrlRedirect(db.Model):
    """An old public path answering 301 to its current one (slug changes)."""

    __tablename__ = "url_redirects"

    id: Mapped[int] = mapped_column(primary_key=True)
    old_path: Mapped[str] = mapped_column(String(300), unique=True)
    new_path: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
