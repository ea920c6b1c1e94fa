"""Back-office actions on the products ticked in the list: publish (those that may be),
archive, add a tag. One commit for the lot."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop.catalogue.errors import CatalogueError, InvalidChoice, NotFound, PublishingProblem
from shop.catalogue.models import Product, ProductStatus, Tag, product_tags
from shop.catalogue.services import commit_changes, display_title, publishing_problems
from shop.clock import utcnow
from shop.extensions import db


@dataclass(frozen=True)
class Unpublishable:
    id: int
    title: str  # in the staff member's language when there is one
    problems: list[PublishingProblem]


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    refused: list[Unpublishable] = field(default_factory=list)


class NothingPublished(CatalogueError):
    """A bulk publication where every ticked product lacks something."""

    message = _l("None of these products can be published yet.")

    def __init__(self, refused: list[Unpublishable]) -> None:
        super().__init__(refused)
        self.refused = refused


def snapshot(product_ids: Iterable[int]) -> dict[str, Any]:
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


def publish(product_ids: Iterable[int], locale: str) -> BulkResult:
    """Publish every product that may be; the others are named, and left as they are."""
    result = BulkResult()
    for product in _products(product_ids):
        active = sum(v.is_active for v in product.variants)
        if problems := publishing_problems(product.translations, active):
            result.refused.append(
                Unpublishable(product.id, display_title(product, locale), problems)
            )
            continue
        if product.status != ProductStatus.ACTIVE:
            product.status = ProductStatus.ACTIVE
            product.published_at = product.published_at or utcnow()
            product.updated_at = utcnow()
        result.done.append(product.id)
    if not result.done:
        raise NothingPublished(result.refused)
    commit_changes()
    return result


def archive(product_ids: Iterable[int]) -> BulkResult:
    result = BulkResult()
    for product in _products(product_ids):
        if product.status != ProductStatus.ARCHIVED:
            product.status = ProductStatus.ARCHIVED
            product.updated_at = utcnow()
        result.done.append(product.id)
    if result.done:
        commit_changes()
    return result


def add_tag(product_ids: Iterable[int], tag_id: int) -> BulkResult:
    tag = db.session.get(Tag, tag_id)
    if tag is None:
        raise InvalidChoice(field="tag_id")
    result = BulkResult()
    for product in _products(product_ids):
        if tag not in product.tags:
            product.tags.append(tag)
            product.updated_at = utcnow()
        result.done.append(product.id)
    if result.done:
        commit_changes()
    return result


def _products(product_ids: Iterable[int]) -> list[Product]:
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
