"""Build small, known catalogues through the real catalogue services (no fixtures in SQL)."""

from __future__ import annotations

from datetime import timedelta

from shop.catalogue import services
from shop.catalogue.models import ProductStatus
from shop.catalogue.services import Text
from shop.clock import utcnow
from shop.inventory.services import receive

SIZES = [
    {"name": {"fr": "Taille", "en": "Size"}, "value": {"fr": "Petit", "en": "Small"}},
    {"name": {"fr": "Taille", "en": "Size"}, "value": {"fr": "Grand", "en": "Large"}},
]


def build(products: int = 30) -> dict:
    """Two root categories (one with two children), three tags, ``products`` chairs and tables.

    Product i costs 10 € + i €, has stock unless i % 5 == 0, is tagged 'bois-massif' when even.
    Product 0 has two sizes; product 1 is discounted (60 € → 45 €, 30-day lowest 55 €).
    """
    furniture = services.create_category(
        {"fr": "Mobilier", "en": "Furniture"}, featured=True, commit=False
    )
    chairs = services.create_category(
        {"fr": "Chaises", "en": "Chairs"}, parent=furniture, commit=False
    )
    tables = services.create_category(
        {"fr": "Tables", "en": "Tables"}, parent=furniture, position=1, commit=False
    )
    kitchen = services.create_category(
        {"fr": "Cuisine", "en": "Kitchen"}, featured=True, position=1, commit=False
    )
    wood = services.create_tag({"fr": "Bois massif", "en": "Solid wood"}, commit=False)
    handmade = services.create_tag({"fr": "Fait main", "en": "Handmade"}, commit=False)
    services.create_tag({"fr": "Nouveauté", "en": "New"}, commit=False)
    made = []
    long_ago = utcnow() - timedelta(days=60)
    for i in range(products):
        category = chairs if i % 2 == 0 else tables
        noun_fr, noun_en = ("Chaise", "Chair") if i % 2 == 0 else ("Table", "Table")
        product = services.create_product(
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
            status=ProductStatus.ACTIVE,
            category=category,
            featured=i < 4,
            tags=[wood] if i % 2 == 0 else [handmade],
            commit=False,
        )
        if i == 0:
            for position, size in enumerate(SIZES):
                services.add_variant(
                    product,
                    sku=f"SKU-{i}-{position}",
                    price=1000 + 200 * position,
                    options=[size],
                    position=position,
                    commit=False,
                )
        elif i == 1:
            variant = services.add_variant(
                product, sku="SKU-1", price=6000, at=long_ago, commit=False
            )
            services.change_price(variant.id, 5500, at=utcnow() - timedelta(days=20), commit=False)
            services.change_price(variant.id, 4500, compare_at_price=6000, commit=False)
        else:
            services.add_variant(product, sku=f"SKU-{i}", price=1000 + 100 * i, commit=False)
        made.append(product)
    draft = services.create_product(
        {"fr": Text(title="Brouillon secret"), "en": Text(title="Secret draft")},
        status=ProductStatus.DRAFT,
        category=chairs,
        commit=False,
    )
    services.add_variant(draft, sku="SKU-DRAFT", price=999, commit=False)
    services._commit()
    for i, product in enumerate(made):
        if i % 5 != 0 or i == 0:
            for variant in product.variants:
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
    from shop.catalogue.models import Category
    from shop.extensions import db

    category = db.session.get(Category, category_id)
    made = []
    for i in range(start, start + count):
        product = services.create_product(
            {
                "fr": Text(title=f"Tabouret n°\u00a0{i}", description="<p>Un tabouret.</p>"),
                "en": Text(title=f"Stool no. {i}", description="<p>A stool.</p>"),
            },
            status=ProductStatus.ACTIVE,
            category=category,
            commit=False,
        )
        services.add_variant(product, sku=f"STOOL-{i}", price=2500 + i, commit=False)
        made.append(product)
    services._commit()
    for product in made:
        receive(product.variants[0].id, 5, reason="initial stock")
    return [p.id for p in made]
