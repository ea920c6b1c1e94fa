"""Back-office catalogue writes: products under the publishing rules, bulk actions, variants
and images.

Every write validates first and changes nothing when it refuses; then it commits once and
tells the storefront cache the catalogue moved on. Services that create a row take an
optional ``created`` callback, called with the new row once it has its id and before the
commit, so the caller's audit entry commits with the row it names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from shop.catalogue import cache, images, seo, services
from shop.catalogue.models import (
    Category,
    Product,
    ProductImage,
    ProductKind,
    ProductStatus,
    ProductTranslation,
    ProductVariant,
    Tag,
    TaxClass,
    product_tags,
)
from shop.catalogue.services import CatalogueError, SlugTaken, Text
from shop.catalogue.text import plain_text
from shop.clock import utcnow
from shop.config import LOCALES
from shop.extensions import db
from shop.inventory.models import InventoryMovement, InventoryReservation
from shop.orders.models import OrderLine

T = TypeVar("T")
Created = Callable[[T], None] | None


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


class PublishingProblem(FieldError):
    """Something a product needs before it is shown; ``missing`` names it in a list."""

    missing = _l("something")


class FrenchTitleMissing(PublishingProblem):
    field = "fr-title"
    message = _l("A product can only be published with its French title.")
    missing = _l("French title")


class FrenchDescriptionMissing(PublishingProblem):
    field = "fr-description"
    message = _l("A product can only be published with its French description.")
    missing = _l("French description")


class EnglishTitleMissing(PublishingProblem):
    field = "en-title"
    message = _l(
        "A product can only be published with its English title too: the shop shows every "
        "product in both languages."
    )
    missing = _l("English title")


class NoVariant(PublishingProblem):
    field = "status"
    message = _l("Add a variant with its price before publishing this product.")
    missing = _l("a variant")


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


class CanonicalRefused(FieldError):
    """A canonical override that is neither an http(s) URL nor a path of the shop."""

    def __init__(self, error: seo.BadCanonical, *, field: str) -> None:
        super().__init__(error, field=field)
        self.message = error.message


def canonical_errors(texts: Mapping[str, Any]) -> list[CatalogueError]:
    """One refusal per language whose canonical override is not an address."""
    errors: list[CatalogueError] = []
    for locale in LOCALES:
        text = texts.get(locale)
        try:
            seo.clean_canonical(getattr(text, "canonical_url", "") or "")
        except seo.BadCanonical as error:
            errors.append(CanonicalRefused(error, field=f"{locale}-canonical_url"))
    return errors


class NameMissing(FieldError):
    message = _l("Please enter the name in both languages.")


class NothingPublished(CatalogueError):
    """A bulk publication where every ticked product lacks something."""

    message = _l("None of these products can be published yet.")

    def __init__(self, refused: list[Unpublishable]) -> None:
        super().__init__(refused)
        self.refused = refused


class Refused(CatalogueError):
    """Several refusals at once, so a form can show every one of them."""

    def __init__(self, errors: Sequence[CatalogueError]) -> None:
        super().__init__(*errors)
        self.errors = list(errors)
        self.message = errors[0].message


def refuse(errors: list[CatalogueError]) -> None:
    if errors:
        raise Refused(errors) if len(errors) > 1 else errors[0]


def commit() -> None:
    """Commit, then tell the storefront cache the catalogue moved on."""
    db.session.commit()
    cache.catalogue_changed()


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
    if data.og_image_id is not None and (
        product is None or data.og_image_id not in {image.id for image in product.images}
    ):
        errors.append(InvalidChoice(field="og_image_id"))
    errors += canonical_errors(data.texts)
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
    refuse(_check_product_input(data, product))
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
        product.noindex = data.noindex
        product.og_image_id = data.og_image_id
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
    commit()
    return product


def set_status(product_id: int, status: str) -> Product:
    """Publish (with the publishing rules), archive or return a product to draft."""
    product = load_product(product_id)
    if status not in ProductStatus.ALL:
        raise InvalidChoice(field="status")
    if status == ProductStatus.ACTIVE:
        refuse(
            publishing_problems(product.translations, sum(v.is_active for v in product.variants))
        )
        product.published_at = product.published_at or utcnow()
    product.status = status
    product.updated_at = utcnow()
    commit()
    return product


@dataclass(frozen=True)
class Unpublishable:
    id: int
    title: str  # in the staff member's language when there is one
    problems: list[PublishingProblem]


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    refused: list[Unpublishable] = field(default_factory=list)


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
    commit()
    return result


def bulk_archive(product_ids: Iterable[int]) -> BulkResult:
    result = BulkResult()
    for product in _bulk_products(product_ids):
        if product.status != ProductStatus.ARCHIVED:
            product.status = ProductStatus.ARCHIVED
            product.updated_at = utcnow()
        result.done.append(product.id)
    if result.done:
        commit()
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
        commit()
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
    refuse(_check_variant(data, None))
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
    refuse(_check_variant(data, variant.id))
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
    commit()
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
    commit()
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
    commit()
    return image


def set_image_alt(image_id: int, *, alt_fr: str, alt_en: str) -> ProductImage:
    image = load_image(image_id)
    image.alt_fr = alt_fr.strip()[: images.ALT_MAX_LENGTH]
    image.alt_en = alt_en.strip()[: images.ALT_MAX_LENGTH]
    commit()
    return image


def delete_image(image_id: int) -> None:
    """Remove the image; its files go too unless another row shares them (the demo does)."""
    image = load_image(image_id)
    path, renditions = image.path, dict(image.renditions or {})
    db.session.delete(image)
    db.session.flush()
    shared = db.session.execute(select(exists().where(ProductImage.path == path))).scalar()
    commit()
    if not shared:
        root = images.media_root()
        files = [path] + [p for formats in renditions.values() for p in formats.values()]
        for relpath in files:
            (root / relpath).unlink(missing_ok=True)
