"""Build small, known catalogues through the catalogue services the back office uses (the same
checks, price history and addresses; no rows written around them).

``product``, ``category`` and ``tag`` make one of each as the back office would; ``edit_*``
change a saved one as its edit page would (everything else posted as it is), and
``change_price`` is a new price typed on a variant's page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from shop.catalogue import services, taxonomy
from shop.catalogue.models import Category, Product, ProductStatus, ProductVariant, Tag
from shop.catalogue.services import ProductInput, Text, VariantInput
from shop.catalogue.taxonomy import CategoryInput, CategoryText, TagText
from shop.clock import utcnow
from shop.inventory.services import receive

SIZES = [
    {"name": {"fr": "Taille", "en": "Size"}, "value": {"fr": "Petit", "en": "Small"}},
    {"name": {"fr": "Taille", "en": "Size"}, "value": {"fr": "Grand", "en": "Large"}},
]


# -- one of each, as the back office makes them --------------------------------------------


def category(fr: str, en: str, *, commit: bool = True, **fields: Any) -> Category:
    """A category named ``fr``/``en``; ``fields`` as in ``CategoryInput`` (parent_id, ...)."""
    texts = {"fr": CategoryText(fr), "en": CategoryText(en)}
    return taxonomy.save_category(None, CategoryInput(texts=texts, **fields), commit=commit)


def tag(fr: str, en: str, *, commit: bool = True) -> Tag:
    return taxonomy.save_tag(None, {"fr": TagText(fr), "en": TagText(en)}, commit=commit)


def product(
    texts: Mapping[str, Text | None],
    *,
    status: str = ProductStatus.DRAFT,
    variants: Iterable[VariantInput] = (),
    commit: bool = True,
    **fields: Any,
) -> Product:
    """Saved as a draft, its variants added, then given ``status`` (publishing checks the
    publishing rules); ``fields`` as in ``ProductInput`` (category_id, tag_ids, ...).
    ``commit=False``: the caller commits (``services.commit_changes``)."""
    made = services.save_product(None, ProductInput(texts=texts, **fields), commit=commit)
    for variant in variants:
        services.create_variant(made.id, variant, commit=commit)
    if status != ProductStatus.DRAFT:
        services.set_status(made.id, status, commit=commit)
    return made


# -- changes, as the edit pages post them ------------------------------------------------


def edit_product(
    product_id: int, *, texts: Mapping[str, Mapping[str, Any]] | None = None, **fields: Any
) -> Product:
    """Save the product with ``fields`` and, per language, ``texts`` changed."""
    current = services.load_product(product_id)
    data = ProductInput(
        texts={
            locale: Text(**{name: getattr(text, name) for name in services.TEXT_FIELDS})
            for locale, text in current.translations.items()
        },
        kind=current.kind,
        status=current.status,
        tax_class=current.tax_class,
        category_id=current.category_id,
        tag_ids=tuple(t.id for t in current.tags),
        featured=current.featured,
        noindex=current.noindex,
        og_image_id=current.og_image_id,
    )
    data = replace(data, texts=_changed(data.texts, texts), **fields)
    return services.save_product(product_id, data)


def edit_category(
    category_id: int, *, texts: Mapping[str, Mapping[str, Any]] | None = None, **fields: Any
) -> Category:
    current = taxonomy.load_category(category_id)
    data = CategoryInput(
        texts={
            locale: CategoryText(
                **{name: getattr(text, name) for name in taxonomy.CATEGORY_TEXT_FIELDS}
            )
            for locale, text in current.translations.items()
        },
        parent_id=current.parent_id,
        position=current.position,
        featured=current.featured,
        noindex=current.noindex,
        og_image_id=current.og_image_id,
    )
    data = replace(data, texts=_changed(data.texts, texts), **fields)
    return taxonomy.save_category(category_id, data)


def edit_tag(
    tag_id: int, *, texts: Mapping[str, Mapping[str, Any]] | None = None, **fields: Any
) -> Tag:
    current = taxonomy.load_tag(tag_id)
    saved = {
        locale: TagText(
            name=text.name, **{name: getattr(text, name) for name in taxonomy.TAG_TEXT_FIELDS}
        )
        for locale, text in current.translations.items()
    }
    settings = {"noindex": current.noindex, "og_image_id": current.og_image_id} | fields
    return taxonomy.save_tag(tag_id, _changed(saved, texts), **settings)


def change_price(
    variant_id: int,
    price: int,
    compare_at_price: int | None = None,
    *,
    at: datetime | None = None,
    commit: bool = True,
) -> ProductVariant:
    """A new price (and compare-at price) from ``at``, the rest of the variant as it is."""
    current = services.load_variant(variant_id)
    data = VariantInput(
        sku=current.sku,
        price=price,
        compare_at_price=compare_at_price,
        barcode=current.barcode,
        options=current.options,
        track_inventory=current.track_inventory,
        weight_grams=current.weight_grams,
    )
    return services.update_variant(variant_id, data, at=at, commit=commit)


def _changed(texts: Mapping[str, Any], changes: Mapping[str, Mapping[str, Any]] | None) -> dict:
    return {
        locale: replace(text, **(changes or {}).get(locale, {})) for locale, text in texts.items()
    }


# -- the small shop most tests start from ------------------------------------------------


def build(products: int = 30) -> dict:
    """Two root categories (one with two children), three tags, ``products`` chairs and tables.

    Product i costs 10 € + i €, has stock unless i % 5 == 0, is tagged 'bois-massif' when even.
    Product 0 has two sizes; product 1 is discounted (60 € → 45 €, 30-day lowest 55 €).
    One transaction for the catalogue, as the demo makes its own.
    """
    furniture = category("Mobilier", "Furniture", featured=True, commit=False)
    chairs = category("Chaises", "Chairs", parent_id=furniture.id, commit=False)
    tables = category("Tables", "Tables", parent_id=furniture.id, position=1, commit=False)
    kitchen = category("Cuisine", "Kitchen", featured=True, position=1, commit=False)
    wood = tag("Bois massif", "Solid wood", commit=False)
    handmade = tag("Fait main", "Handmade", commit=False)
    tag("Nouveauté", "New", commit=False)
    made = []
    long_ago = utcnow() - timedelta(days=60)
    for i in range(products):
        noun_fr, noun_en = ("Chaise", "Chair") if i % 2 == 0 else ("Table", "Table")
        if i == 0:
            variants = [
                VariantInput(sku=f"SKU-{i}-{position}", price=1000 + 200 * position, options=[size])
                for position, size in enumerate(SIZES)
            ]
        elif i == 1:
            variants = []  # its price history is written below
        else:
            variants = [VariantInput(sku=f"SKU-{i}", price=1000 + 100 * i)]
        item = product(
            {
                "fr": Text(
                    title=f"{noun_fr} en chêne n°\u00a0{i}",
                    description=f"<p>Une {noun_fr.lower()} solide, numéro {i}.</p>",
                ),
                "en": Text(
                    title=f"Oak {noun_en.lower()} no. {i}",
                    description=f"<p>A sturdy {noun_en.lower()}, number {i}.</p>",
                ),
            },
            status=ProductStatus.ACTIVE if i != 1 else ProductStatus.DRAFT,
            variants=variants,
            category_id=chairs.id if i % 2 == 0 else tables.id,
            featured=i < 4,
            tag_ids=(wood.id,) if i % 2 == 0 else (handmade.id,),
            commit=False,
        )
        if i == 1:
            variant = services.create_variant(
                item.id, VariantInput(sku="SKU-1", price=6000), at=long_ago, commit=False
            )
            change_price(variant.id, 5500, at=utcnow() - timedelta(days=20), commit=False)
            change_price(variant.id, 4500, compare_at_price=6000, commit=False)
            services.set_status(item.id, ProductStatus.ACTIVE, commit=False)
        made.append(item)
    draft = product(
        {"fr": Text(title="Brouillon secret"), "en": Text(title="Secret draft")},
        variants=[VariantInput(sku="SKU-DRAFT", price=999)],
        category_id=chairs.id,
        commit=False,
    )
    services.commit_changes()
    for i, item in enumerate(made):
        if i % 5 != 0 or i == 0:
            for variant in item.variants:
                receive(variant.id, 2 if i == 2 else 10, reason="initial stock")
    return {
        "furniture": furniture.id,
        "chairs": chairs.id,
        "tables": tables.id,
        "kitchen": kitchen.id,
        "wood": wood.id,
        "products": [p.id for p in made],
        "draft": draft.id,
    }


def add_products(category_id: int, count: int, start: int = 1000) -> list[int]:
    """More stocked products in one category (for 'same query count at any size' checks)."""
    made = [
        product(
            {
                "fr": Text(title=f"Tabouret n°\u00a0{i}", description="<p>Un tabouret.</p>"),
                "en": Text(title=f"Stool no. {i}", description="<p>A stool.</p>"),
            },
            status=ProductStatus.ACTIVE,
            variants=[VariantInput(sku=f"STOOL-{i}", price=2500 + i)],
            category_id=category_id,
            commit=False,
        )
        for i in range(start, start + count)
    ]
    services.commit_changes()
    for item in made:
        receive(item.variants[0].id, 5, reason="initial stock")
    return [p.id for p in made]
