"""Back-office category tree and tags: both languages, slugs per language (a change leaves
a 301 behind), never a category under itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import selectinload

from shop.accounts.models import utcnow
from shop.catalogue import services
from shop.catalogue.admin import (
    CategoryCycle,
    CategoryNotEmpty,
    Created,
    InvalidChoice,
    NameMissing,
    NotFound,
    SlugInUse,
    commit,
    refuse,
)
from shop.catalogue.admin_queries import descendant_ids
from shop.catalogue.models import (
    Category,
    CategoryTranslation,
    Product,
    Tag,
    TagTranslation,
)
from shop.catalogue.services import PATHS, CatalogueError, record_redirect
from shop.catalogue.text import sanitize_description, slugify
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
    refuse(errors)
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
    commit()
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
    commit()


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
    refuse(
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
    commit()
    return tag


def delete_tag(tag_id: int) -> None:
    tag = load_tag(tag_id)
    db.session.delete(tag)
    commit()
