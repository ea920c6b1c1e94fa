"""Before and after the add-to-cart benchmark (``bench/add_to_cart.lua``), with the shop's env.

    .venv/bin/python bench/cart.py prepare --carts 4 --stock 1000000 --out DIR
    .venv/bin/python bench/cart.py check --out DIR

``prepare`` picks the tracked, sellable variant with the most free stock, raises its free
stock to ``--stock`` units (``inventory.receive``), makes one empty guest cart per wrk
connection (``get_or_create_cart``) and writes their signed ``cart`` cookies, one a line, to
``DIR/cart-cookies.txt``; it prints the variant and its French product page as JSON.

``check`` counts what the shoppers' carts hold and the carts made since ``prepare`` (none
expected: every POST carried its cart cookie), and prints it as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def prepare(args: argparse.Namespace) -> dict:
    from sqlalchemy import func, select

    from shop.cart import services as carts
    from shop.cart.models import Cart
    from shop.catalogue.models import Product, ProductStatus, ProductTranslation, ProductVariant
    from shop.extensions import db
    from shop.inventory import services as inventory
    from shop.inventory.models import InventoryItem

    free = InventoryItem.on_hand - InventoryItem.reserved
    row = db.session.execute(
        select(ProductVariant.id, ProductVariant.sku, free, ProductTranslation.slug)
        .join(Product, Product.id == ProductVariant.product_id)
        .join(InventoryItem, InventoryItem.variant_id == ProductVariant.id)
        .join(
            ProductTranslation,
            (ProductTranslation.product_id == Product.id) & (ProductTranslation.locale == "fr"),
        )
        .where(
            ProductVariant.is_active,
            ProductVariant.track_inventory,
            Product.status == ProductStatus.ACTIVE,
        )
        .order_by(free.desc(), ProductVariant.id)
        .limit(1)
    ).one_or_none()
    if row is None:
        raise SystemExit("no tracked, sellable variant with stock")
    variant_id, sku, left, slug = row
    if left < args.stock:
        inventory.receive(variant_id, args.stock - left, reason="bench: add to cart")
    cookies, cart_ids = [], []
    for _ in range(args.carts):
        cart = carts.get_or_create_cart(token=None, customer_id=None, locale="fr")
        db.session.commit()
        cart_ids.append(cart.id)
        cookies.append(carts.sign_token(cart.token))
    out = Path(args.out)
    (out / "cart-cookies.txt").write_text("\n".join(cookies) + "\n")
    state = {
        "variant_id": variant_id,
        "sku": sku,
        "stock": max(left, args.stock),
        "page": f"/fr/produits/{slug}",
        "cart_ids": cart_ids,
        "max_cart_id": db.session.execute(select(func.max(Cart.id))).scalar(),
        "max_per_line": carts.max_per_line(),
    }
    (out / "cart-state.json").write_text(json.dumps(state))
    return state


def check(args: argparse.Namespace) -> dict:
    from sqlalchemy import func, select

    from shop.cart.models import Cart, CartItem
    from shop.extensions import db

    state = json.loads((Path(args.out) / "cart-state.json").read_text())
    lines, units = db.session.execute(
        select(func.count(CartItem.id), func.coalesce(func.sum(CartItem.quantity), 0)).where(
            CartItem.cart_id.in_(state["cart_ids"])
        )
    ).one()
    other = db.session.execute(
        select(func.count(Cart.id)).where(Cart.id > state["max_cart_id"])
    ).scalar()
    return {"lines": lines, "units": int(units), "carts_made_during_run": other}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("prepare", "check"))
    parser.add_argument("--carts", type=int, default=4, help="one per wrk connection")
    parser.add_argument("--stock", type=int, default=1_000_000)
    parser.add_argument("--out", required=True, help="a directory for the cookies and state")
    args = parser.parse_args()

    from shop import create_app

    with create_app().app_context():
        result = prepare(args) if args.step == "prepare" else check(args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
