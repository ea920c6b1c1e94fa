"""What adding to the cart costs: statements per add, and no session rewrite for guests.

Counts, not timings: the add is the shop's busiest write (issue 4 benchmark), and these
keep its cost from creeping back.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shop.cart.models import CartItem
from shop.catalogue.models import ProductVariant
from shop.extensions import db
from shop.inventory import services as inventory
from tests import catalogue_factory
from tests.conftest import csrf_token


@pytest.fixture
def skus(app) -> dict[str, int]:
    with app.app_context():
        catalogue_factory.build(6)
        return dict(db.session.execute(select(ProductVariant.sku, ProductVariant.id)).all())


def _add(client, variant_id: int, token: str):
    return client.post(
        "/fr/panier/ajouter",
        data={"variant_id": str(variant_id), "quantity": "1"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )


def _cookies_set(response) -> list[str]:
    return [header.split("=", 1)[0] for header in response.headers.getlist("Set-Cookie")]


def test_an_add_costs_four_statements_and_one_commit(app, client, skus, queries):
    token = csrf_token(client, "/fr/produits/table-en-chene-n-3")
    with queries() as first:
        assert _add(client, skus["SKU-3"], token).status_code == 200
    with queries() as again:
        response = _add(client, skus["SKU-3"], token)
    with queries() as other:
        assert _add(client, skus["SKU-4"], token).status_code == 200
    assert response.status_code == 200
    assert "2 articles" in response.get_data(as_text=True)  # the badge, from the same reads
    # new cart, the variant with its stock and line, the line, the event
    assert [s.split()[0] for s in first] == ["INSERT", "SELECT", "INSERT", "INSERT"]
    # the cart locked and touched in one UPDATE, the variant, the line, the event
    assert [s.split()[0] for s in again] == ["UPDATE", "SELECT", "UPDATE", "INSERT"]
    assert [s.split()[0] for s in other] == ["UPDATE", "SELECT", "INSERT", "INSERT"]
    with app.app_context():
        assert dict(db.session.execute(select(CartItem.variant_id, CartItem.quantity)).all()) == {
            skus["SKU-3"]: 2,
            skus["SKU-4"]: 1,
        }


def test_an_add_to_a_cart_in_checkout_gives_its_holds_back_first(app, client, skus, queries):
    token = csrf_token(client, "/fr/produits/table-en-chene-n-3")
    added = _add(client, skus["SKU-3"], token)
    assert added.status_code == 200
    with app.app_context():
        cart_id = db.session.execute(select(CartItem.cart_id)).scalar_one()
        inventory.hold_for_cart(cart_id, [(skus["SKU-3"], 1)], tracked={skus["SKU-3"]})
        db.session.commit()
    with queries() as statements:
        assert _add(client, skus["SKU-3"], token).status_code == 200
    # lock, stock (holds seen), the holds given back (read, stock, delete), stock again,
    # the line, the event
    assert len(statements) == 8
    with app.app_context():
        assert inventory.release_cart_holds(cart_id) == 0


def test_a_guests_session_cookie_is_not_rewritten_by_an_add(client, skus):
    token = csrf_token(client, "/fr/produits/table-en-chene-n-3")
    first = _add(client, skus["SKU-3"], token)
    second = _add(client, skus["SKU-3"], token)
    assert _cookies_set(first) == ["cart"]
    assert _cookies_set(second) == ["cart"]  # no session re-signed, no remember cookie wiped


def test_a_signed_in_session_is_still_protected(client, skus, auth, make_user):
    make_user("marie@example.com")
    assert auth.login("marie@example.com").status_code == 303
    assert client.get("/fr/compte/").status_code == 200
    # The same session cookie from another browser (strong protection): signed out.
    stolen = client.get("/fr/compte/", headers={"User-Agent": "Another browser"})
    assert stolen.status_code == 302
    assert "/fr/compte/connexion" in stolen.headers["Location"]
