"""Where catalogue pages live: a localized path word and a slug per language.

Products, categories and tags get their slugs the same way: the one the merchant typed
(refused when another item of the kind has it), else the one they already have, else one
made from the name. A changed slug leaves a 301 behind, so links and search results keep
working; chains of redirects are collapsed as they form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shop.catalogue.errors import SlugTaken
from shop.catalogue.models import UrlRedirect
from shop.catalogue.text import slugify
from shop.extensions import db

# Localized path words, shared with the storefront routes and the redirects they leave behind.
PATHS = {
    "product": {"fr": "/fr/produits/", "en": "/en/products/"},
    "category": {"fr": "/fr/categories/", "en": "/en/categories/"},
    "tag": {"fr": "/fr/etiquettes/", "en": "/en/tags/"},
}


def redirect_for(path: str) -> str | None:
    return db.session.execute(
        db.select(UrlRedirect.new_path).where(UrlRedirect.old_path == path)
    ).scalar_one_or_none()


def taken_slugs(
    model: type, owner: str, owner_id: int | None, texts: Mapping[str, Any]
) -> list[SlugTaken]:
    """One refusal per language whose typed slug another item of the same kind has.

    ``model`` is the translation model, ``owner`` its column naming the item ("product_id")
    and ``texts`` the item's texts by language (each with a ``slug``, or None)."""
    errors = []
    for locale, text in texts.items():
        wanted = _typed(text)
        if wanted and _taken(model, owner, owner_id, locale, wanted):
            errors.append(SlugTaken(field=f"{locale}-slug"))
    return errors


def assign_slug(
    model: type,
    owner: str,
    kind: str,
    owner_id: int,
    locale: str,
    text: Any,
    name: str,
    current: Any,
) -> str:
    """The slug to store for ``text`` (checked beforehand by ``taken_slugs``): the one typed,
    else the current translation's, else one made from ``name`` that no other item has."""
    wanted = _typed(text)
    if wanted:
        slug = wanted
    elif current is not None:
        return current.slug
    else:
        slug = _unique_slug(model, owner, owner_id, locale, slugify(name))
    if current is not None and current.slug != slug:
        prefix = PATHS[kind][locale]
        _record_redirect(prefix + current.slug, prefix + slug)
    return slug


def _typed(text: Any) -> str:
    wanted = (getattr(text, "slug", None) or "").strip()
    return slugify(wanted) if wanted else ""


def _taken(model: type, owner: str, owner_id: int | None, locale: str, slug: str) -> bool:
    others = [getattr(model, owner) != owner_id] if owner_id is not None else []
    return (
        db.session.execute(
            db.select(model.id).where(model.locale == locale, model.slug == slug, *others)
        ).first()
        is not None
    )


def _unique_slug(model: type, owner: str, owner_id: int, locale: str, wanted: str) -> str:
    taken = set(
        db.session.execute(
            db.select(model.slug).where(
                model.locale == locale,
                model.slug.like(f"{wanted}%"),
                getattr(model, owner) != owner_id,
            )
        ).scalars()
    )
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted}-{n}" in taken:
        n += 1
    return f"{wanted}-{n}"


def _record_redirect(old_path: str, new_path: str) -> None:
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
