"""Catalogue writes for the category tree and tags: both languages, a slug per language (a
change leaves a 301 behind), never a category under itself.

As for products (``shop.catalogue.services``): everything is checked before anything is
written; ``created``, ``commit=False`` and ``at`` work the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import selectinload

from shop.catalogue.addresses import assign_slug, taken_slugs
from shop.catalogue.admin_queries import descendant_ids, og_image_candidates
from shop.catalogue.errors import (
    CatalogueError,
    CategoryCycle,
    CategoryNotEmpty,
    InvalidChoice,
    NameMissing,
    NotFound,
    refuse,
)
from shop.catalogue.models import (
    Category,
    CategoryTranslation,
    Product,
    Tag,
    TagTranslation,
)
from shop.catalogue.seo import canonical_errors
from shop.catalogue.services import commit_changes
from shop.catalogue.text import sanitize_description
from shop.clock import utcnow
from shop.config import LOCALES
from shop.extensions import db

# -- categories --------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryText:
    name: str
    slug: str = ""
    description: str = ""
    meta_title: str = ""
    meta_description: str = ""
    canonical_url: str = ""


@dataclass(frozen=True)
class CategoryInput:
    texts: Mapping[str, CategoryText]
    parent_id: int | None = None
    position: int = 0
    featured: bool = False
    noindex: bool = False
    og_image_id: int | None = None  # an image of one of its products


def _og_image_errors(
    kind: str, item: Category | Tag | None, wanted: int | None
) -> list[CatalogueError]:
    """The shared image must be one the form offered: an image of the products listed."""
    if wanted is None or (item is not None and wanted == item.og_image_id):
        return []
    offered = {image.id for image in og_image_candidates(kind, item.id if item else None)}
    return [] if wanted in offered else [InvalidChoice(field="og_image_id")]


def load_category(category_id: int) -> Category:
    category = db.session.execute(
        select(Category)
        .where(Category.id == category_id)
        .options(selectinload(Category.translations))
    ).scalar_one_or_none()
    if category is None:
        raise NotFound(category_id)
    return category


CATEGORY_TEXT_FIELDS = (
    "name",
    "slug",
    "description",
    "meta_title",
    "meta_description",
    "canonical_url",
)


def category_snapshot(category: Category) -> dict[str, Any]:
    """What the audit log compares before and after a category change."""
    snapshot: dict[str, Any] = {
        "parent_id": category.parent_id,
        "position": category.position,
        "featured": category.featured,
        "noindex": category.noindex,
        "og_image_id": category.og_image_id,
    }
    for locale, text in category.translations.items():
        for name in CATEGORY_TEXT_FIELDS:
            snapshot[f"{locale}.{name}"] = getattr(text, name)
    return snapshot


def save_category(
    category_id: int | None,
    data: CategoryInput,
    *,
    created: Callable[[Category], None] | None = None,
    at: datetime | None = None,
    commit: bool = True,
) -> Category:
    """Create (``category_id`` None) or update a category with its names, all or nothing."""
    category = load_category(category_id) if category_id is not None else None
    errors: list[CatalogueError] = _name_errors(data.texts)
    if data.parent_id is not None:
        if db.session.get(Category, data.parent_id) is None:
            errors.append(InvalidChoice(field="parent_id"))
        elif category is not None and data.parent_id in descendant_ids(category.id):
            errors.append(CategoryCycle())
    errors += canonical_errors(data.texts)
    errors += _og_image_errors("category", category, data.og_image_id)
    errors += taken_slugs(
        CategoryTranslation, "category_id", category.id if category else None, data.texts
    )
    refuse(errors)
    now = at or utcnow()
    if category is None:
        category = Category(created_at=now, translations={})
        db.session.add(category)
    category.parent_id = data.parent_id
    category.position = data.position
    category.featured = data.featured
    category.noindex = data.noindex
    category.og_image_id = data.og_image_id
    category.updated_at = now
    db.session.flush()
    for locale in LOCALES:
        text = data.texts[locale]
        current = category.translations.get(locale)
        slug = assign_slug(
            CategoryTranslation,
            "category_id",
            "category",
            category.id,
            locale,
            text,
            text.name,
            current,
        )
        values = {
            "name": text.name.strip(),
            "slug": slug,
            "description": sanitize_description(text.description),
            "meta_title": text.meta_title.strip(),
            "meta_description": text.meta_description.strip(),
            "canonical_url": text.canonical_url.strip(),
        }
        _set_values(category.translations, CategoryTranslation, locale, values)
    db.session.flush()
    if created is not None and category_id is None:
        created(category)
    if commit:
        commit_changes()
    return category


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
    commit_changes()


# -- tags --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagText:
    name: str
    slug: str = ""
    meta_title: str = ""
    meta_description: str = ""
    canonical_url: str = ""


def load_tag(tag_id: int) -> Tag:
    tag = db.session.execute(
        select(Tag).where(Tag.id == tag_id).options(selectinload(Tag.translations))
    ).scalar_one_or_none()
    if tag is None:
        raise NotFound(tag_id)
    return tag


TAG_TEXT_FIELDS = ("slug", "meta_title", "meta_description", "canonical_url")


def tag_snapshot(tag: Tag) -> dict[str, Any]:
    """What the audit log compares before and after a tag change."""
    snapshot: dict[str, Any] = {"noindex": tag.noindex, "og_image_id": tag.og_image_id}
    for locale, text in tag.translations.items():
        snapshot[f"{locale}.name"] = text.name
        for name in TAG_TEXT_FIELDS:
            snapshot[f"{locale}.{name}"] = getattr(text, name)
    return snapshot


def save_tag(
    tag_id: int | None,
    texts: Mapping[str, TagText],
    *,
    noindex: bool = False,
    og_image_id: int | None = None,
    created: Callable[[Tag], None] | None = None,
    at: datetime | None = None,
    commit: bool = True,
) -> Tag:
    """Create or update a tag; ``noindex`` and ``og_image_id`` as for a category."""
    tag = load_tag(tag_id) if tag_id is not None else None
    errors: list[CatalogueError] = _name_errors(texts)
    errors += canonical_errors(texts)
    errors += _og_image_errors("tag", tag, og_image_id)
    errors += taken_slugs(TagTranslation, "tag_id", tag.id if tag else None, texts)
    refuse(errors)
    now = at or utcnow()
    if tag is None:
        tag = Tag(created_at=now, translations={})
        db.session.add(tag)
    tag.noindex = noindex
    tag.og_image_id = og_image_id
    tag.updated_at = now
    db.session.flush()
    for locale in LOCALES:
        text = texts[locale]
        current = tag.translations.get(locale)
        slug = assign_slug(
            TagTranslation, "tag_id", "tag", tag.id, locale, text, text.name, current
        )
        values = {
            "name": text.name.strip(),
            "slug": slug,
            "meta_title": text.meta_title.strip(),
            "meta_description": text.meta_description.strip(),
            "canonical_url": text.canonical_url.strip(),
        }
        _set_values(tag.translations, TagTranslation, locale, values)
    db.session.flush()
    if created is not None and tag_id is None:
        created(tag)
    if commit:
        commit_changes()
    return tag


def delete_tag(tag_id: int) -> None:
    tag = load_tag(tag_id)
    db.session.delete(tag)
    commit_changes()


def _name_errors(texts: Mapping[str, Any]) -> list[CatalogueError]:
    return [
        NameMissing(field=f"{locale}-name")
        for locale in LOCALES
        if texts.get(locale) is None or not texts[locale].name.strip()
    ]


def _set_values(translations: Any, model: type, locale: str, values: dict[str, Any]) -> None:
    """Update one language's row, or add it."""
    current = translations.get(locale)
    if current is None:
        translations[locale] = model(locale=locale, **values)
    else:
        for key, value in values.items():
            setattr(current, key, value)
