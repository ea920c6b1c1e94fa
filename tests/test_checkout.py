"""Checkout over HTTP: details → review → order, bad input kept and refused, bank transfer."""

from __future__ import annotations

import re

import pytest

from shop.catalogue.models import ProductVariant
from shop.checkout.defaults import load_defaults
from shop.extensions import db
from shop.inventory.models import InventoryItem, InventoryReservation
from shop.orders.models import Order, OrderStatus
from shop.outbox.models import OutboxEvent
from tests import catalogue_factory
from tests.conftest import csrf_token
from tests.order_factory import offer_bank_transfer

ADDRESS = {
    "first_name": "Camille",
    "last_name": "Durand",
    "line1": "12 rue des Lilas",
    "postal_code": "75011",
    "city": "Paris",
    "country": "FR",
}


@pytest.fixture
def shop(app):
    with app.app_context():
        ids = catalogue_factory.build(6)
        load_defaults()
        db.session.commit()
        offer_bank_transfer()
    return ids


def _sku_variant(app, sku: str) -> int:
    with app.app_context():
        return db.session.execute(
            db.select(ProductVariant.id).where(ProductVariant.sku == sku)
        ).scalar_one()


def _add(client, variant_id: int, quantity: int = 1, lang: str = "fr"):
    path = "/fr/panier/ajouter" if lang == "fr" else "/en/cart/add"
    token = csrf_token(client, f"/{lang}/")
    return client.post(
        path, data={"variant_id": variant_id, "quantity": quantity, "csrf_token": token}
    )


def _details_form(client, path="/fr/commande", **overrides):
    form = {
        "csrf_token": csrf_token(client, path),
        "email": "camille@example.com",
        "billing_same": "1",
        "shipping_method": "colissimo",
        "payment_method": "bank_transfer",
        **{f"shipping-{k}": v for k, v in ADDRESS.items()},
    }
    form.update(overrides)
    return form


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.execute(
            db.select(db.func.count()).select_from(model).where(*where)
        ).scalar()


def test_guest_checkout_by_bank_transfer_in_french(app, client, shop):
    variant = _sku_variant(app, "SKU-1")
    assert _add(client, variant, 2).status_code == 303
    assert client.get("/fr/commande").status_code == 200
    assert _count(app, InventoryReservation) == 1  # the checkout holds the stock
    response = client.post("/fr/commande", data=_details_form(client))
    assert response.status_code == 303
    assert response.headers["Location"] == "/fr/commande/recapitulatif"
    review = client.get("/fr/commande/recapitulatif").get_data(as_text=True)
    assert "Colissimo domicile" in review
    assert "TVA 20\u202f% (incluse)" in review
    assert "90,00\u00a0€" in review
    placed = client.post(
        "/fr/commande/recapitulatif", data={"csrf_token": csrf_token(client, "/fr/")}
    )
    assert placed.status_code == 303
    confirmation = client.get(placed.headers["Location"])
    html = confirmation.get_data(as_text=True)
    assert confirmation.status_code == 200
    assert "Votre commande est enregistrée" in html
    assert "Comment payer par virement" in html
    with app.app_context():
        order = db.session.execute(db.select(Order)).scalar_one()
        assert order.status == OrderStatus.PENDING_PAYMENT
        assert (order.total, order.email, order.locale) == (9000, "camille@example.com", "fr")
        assert order.number in html
        hold = db.session.execute(db.select(InventoryReservation)).scalar_one()
        assert (hold.order_id, hold.cart_id, hold.quantity) == (order.id, None, 2) or (
            hold.order_id == order.id and hold.quantity == 2
        )
    assert _count(app, OutboxEvent, OutboxEvent.type == "order_placed") == 1
    # The cart is gone: the badge is empty and checkout sends back to the cart.
    assert client.get("/fr/commande").status_code == 302


def test_missing_and_bad_fields_are_a_422_keeping_what_was_typed(app, client, shop):
    _add(client, _sku_variant(app, "SKU-2"))
    client.get("/fr/commande")
    form = _details_form(
        client,
        **{"shipping-postal_code": "7501", "shipping-city": "", "email": "camille@"},
    )
    response = client.post("/fr/commande", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="12 rue des Lilas"' in html
    assert 'value="7501"' in html
    assert re.search(r'id="shipping-postal_code-error">[^<]+', html)
    assert re.search(r'id="shipping-city-error">[^<]+', html)
    assert 'id="email-error"' in html
    assert _count(app, Order) == 0


def test_unsupported_country_is_refused(app, client, shop):
    _add(client, _sku_variant(app, "SKU-2"))
    client.get("/en/checkout")
    form = _details_form(client, "/en/checkout", **{"shipping-country": "US"})
    response = client.post("/en/checkout", data=form)
    assert response.status_code == 422
    assert _count(app, Order) == 0


def test_missing_csrf_token_keeps_the_form(app, client, shop):
    _add(client, _sku_variant(app, "SKU-2"))
    client.get("/fr/commande")
    form = _details_form(client)
    del form["csrf_token"]
    response = client.post("/fr/commande", data=form)
    assert response.status_code == 400
    assert 'value="camille@example.com"' in response.get_data(as_text=True)


def test_double_click_on_place_order_makes_one_order(app, client, shop):
    _add(client, _sku_variant(app, "SKU-2"))
    client.get("/fr/commande")
    client.post("/fr/commande", data=_details_form(client))
    token = csrf_token(client, "/fr/")
    client.post("/fr/commande/recapitulatif", data={"csrf_token": token})
    second = client.post("/fr/commande/recapitulatif", data={"csrf_token": token})
    assert second.status_code in (302, 303)
    assert _count(app, Order) == 1


def test_stock_gone_before_placing_is_a_translated_409_and_the_cart_stays(app, client, shop):
    variant = _sku_variant(app, "SKU-2")  # 2 units in stock
    _add(client, variant, 2)
    client.get("/fr/commande")
    client.post("/fr/commande", data=_details_form(client))
    with app.app_context():  # the holds lapse and someone else takes the stock
        db.session.execute(db.delete(InventoryReservation))
        db.session.execute(
            db.update(InventoryItem).where(InventoryItem.variant_id == variant).values(reserved=0)
        )
        db.session.execute(
            db.update(InventoryItem).where(InventoryItem.variant_id == variant).values(on_hand=1)
        )
        db.session.commit()
    response = client.post(
        "/fr/commande/recapitulatif", data={"csrf_token": csrf_token(client, "/fr/")}
    )
    assert response.status_code == 409
    assert "n’est plus disponible" in response.get_data(as_text=True)
    assert _count(app, Order) == 0
    assert "SKU-2" in client.get("/fr/panier").get_data(as_text=True)


def test_empty_cart_cannot_check_out(client, shop):
    response = client.get("/fr/commande")
    assert response.status_code == 302
    assert response.headers["Location"] == "/fr/panier"


def test_confirmation_link_is_signed(client, shop):
    assert client.get("/fr/commande/confirmation/forged.token").status_code == 404


def test_without_stripe_keys_card_payment_is_hidden_and_refused(app, client, shop):
    saved = app.config["STRIPE_SECRET_KEY"]
    app.config["STRIPE_SECRET_KEY"] = None
    try:
        _add(client, _sku_variant(app, "SKU-2"))
        page = client.get("/fr/commande").get_data(as_text=True)
        assert 'value="card"' not in page
        assert 'value="bank_transfer"' in page
        response = client.post("/fr/commande", data=_details_form(client, payment_method="card"))
        assert response.status_code == 422
        assert "Veuillez choisir un moyen de paiement." in response.get_data(as_text=True)
        ok = client.post("/fr/commande", data=_details_form(client))
        assert ok.status_code == 303
    finally:
        app.config["STRIPE_SECRET_KEY"] = saved


def test_card_order_goes_to_payment_and_its_confirmation_links_back(app, client, shop):
    _add(client, _sku_variant(app, "SKU-2"))
    client.get("/fr/commande")
    client.post("/fr/commande", data=_details_form(client, payment_method="card"))
    placed = client.post(
        "/fr/commande/recapitulatif", data={"csrf_token": csrf_token(client, "/fr/")}
    )
    pay_url = placed.headers["Location"]
    assert re.fullmatch(r"/fr/commande/[\w.-]+/payer", pay_url)
    token = pay_url.split("/")[3]
    assert client.get(pay_url).status_code == 200
    confirmation = client.get(f"/fr/commande/confirmation/{token}").get_data(as_text=True)
    assert f'href="{pay_url}"' in confirmation


def test_an_order_beyond_what_amounts_can_hold_is_refused_with_a_message(app, client, shop):
    from shop.checkout import services as checkout
    from shop.checkout.services import OrderTooLarge
    from tests.test_orders import _cart, _details

    variant = _sku_variant(app, "SKU-3")
    with app.app_context():
        catalogue_factory.change_price(variant, 900_000_000)  # 9 000 000,00 €: a valid price
        db.session.commit()
    assert _add(client, variant, 3).status_code == 303  # 27 M€: past the 32-bit columns
    assert client.get("/fr/commande").status_code == 200
    client.post("/fr/commande", data=_details_form(client))

    review = client.get("/fr/commande/recapitulatif")
    assert review.status_code == 302 and review.headers["Location"] == "/fr/panier"
    cart = client.get("/fr/panier").get_data(as_text=True)
    assert "Cette commande est trop importante pour être passée en ligne" in cart
    placed = client.post(
        "/fr/commande/recapitulatif", data={"csrf_token": csrf_token(client, "/fr/")}
    )
    assert placed.status_code == 302 and placed.headers["Location"] == "/fr/panier"
    with app.app_context():
        cart_id = _cart(variant, 3)
        with pytest.raises(OrderTooLarge):
            checkout.place_order(cart_id, _details())
    assert _count(app, Order) == 0


@pytest.mark.parametrize(
    ("quantity", "country", "expected"),
    [
        (1, "FR", [("colissimo", 690), ("pickup-paris", 0)]),  # 45 €: offered, not yet free
        (2, "FR", [("colissimo", 0), ("pickup-paris", 0)]),  # 90 €: free from 60 €
        (1, "de", [("europe", 1290)]),
        (1, "US", []),
        (1, "", []),
    ],
)
def test_the_service_offers_the_methods_that_serve_the_cart_priced_for_its_goods(
    app, shop, quantity, country, expected
):
    from shop.checkout import services as checkout
    from tests.test_orders import _cart

    with app.app_context():
        cart_id = _cart(_sku_variant(app, "SKU-1"), quantity)

        options = checkout.shipping_options(cart_id, country)

        assert [(m.code, m.price) for m in options.methods] == expected
        assert options.subtotal == 4500 * quantity
        assert [(line.sku, line.quantity) for line in options.lines] == [("SKU-1", quantity)]
        assert all(options.offers(code) for code, _price in expected)
        assert not options.offers("canada-post")
        assert not options.offers("")


@pytest.mark.parametrize("email", ["camille@example.com", "camille@"])  # valid or refused
def test_an_item_withdrawn_during_checkout_sends_back_to_the_cart(app, client, shop, email):
    from shop.catalogue import services as catalogue_services
    from shop.catalogue.models import ProductStatus

    variant = _sku_variant(app, "SKU-2")
    _add(client, variant)
    form = _details_form(client, email=email)  # the page, shown before the product is withdrawn
    with app.app_context():
        product_id = db.session.get(ProductVariant, variant).product_id
        catalogue_services.set_status(product_id, ProductStatus.ARCHIVED)

    response = client.post("/fr/commande", data=form)

    assert response.status_code == 303
    assert response.headers["Location"] == "/fr/panier"
    assert "n’est plus en vente" in client.get("/fr/panier").get_data(as_text=True)
    assert _count(app, Order) == 0
