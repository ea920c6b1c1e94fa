"""The cart on PostgreSQL: HTTP actions in both languages, rules, prices, cookie, merge, badge."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import func, select

from shop.cart import services as cart
from shop.cart.models import Cart, CartEvent, CartItem, CartStatus
from shop.catalogue import services as catalogue
from shop.catalogue.models import ProductStatus, ProductVariant
from shop.catalogue.services import Text, VariantInput
from shop.extensions import db
from shop.inventory import services as inventory
from shop.inventory.models import InventoryItem, InventoryReservation
from tests import catalogue_factory
from tests.conftest import Auth, csrf_token

PATHS = {
    "fr": {
        "cart": "/fr/panier",
        "add": "/fr/panier/ajouter",
        "line": "/fr/panier/lignes/{}",
        "remove": "/fr/panier/lignes/{}/supprimer",
        "product": "/fr/produits/{}",
    },
    "en": {
        "cart": "/en/cart",
        "add": "/en/cart/add",
        "line": "/en/cart/lines/{}",
        "remove": "/en/cart/lines/{}/remove",
        "product": "/en/products/{}",
    },
}
SLUGS = {  # products of catalogue_factory.build()
    3: {"fr": "table-en-chene-n-3", "en": "oak-table-no-3"},  # 13 €, 10 in stock
    4: {"fr": "chaise-en-chene-n-4", "en": "oak-chair-no-4"},  # 14 €, 10 in stock
}
MONTH = 30 * 24 * 3600


def html_of(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def shop(app) -> dict[str, int]:
    """The factory's catalogue plus an archived product and an untracked one: SKU -> id."""
    with app.app_context():
        catalogue_factory.build(10)
        archived = catalogue_factory.product(
            {"fr": Text(title="Vieux banc"), "en": Text(title="Old bench")},
            status=ProductStatus.ARCHIVED,
            variants=[VariantInput(sku="SKU-ARCHIVED", price=1500)],
        )
        inventory.receive(archived.variants[0].id, 5, reason="initial stock")
        catalogue_factory.product(
            {
                "fr": Text(title="Tasses en grès", description="<p>Quatre tasses.</p>"),
                "en": Text(title="Stoneware cups", description="<p>Four cups.</p>"),
            },
            status=ProductStatus.ACTIVE,
            variants=[VariantInput(sku="CUPS", price=3200, track_inventory=False)],
        )
        return dict(db.session.execute(select(ProductVariant.sku, ProductVariant.id)).all())


def state(app) -> dict:
    """Everything a refused action must leave untouched."""
    with app.app_context():
        return {
            "carts": db.session.execute(
                select(Cart.id, Cart.status, Cart.last_activity_at).order_by(Cart.id)
            ).all(),
            "items": db.session.execute(
                select(
                    CartItem.id, CartItem.variant_id, CartItem.quantity, CartItem.unit_price
                ).order_by(CartItem.id)
            ).all(),
            "events": db.session.scalar(select(func.count(CartEvent.id))),
        }


def lines(app) -> dict[int, int]:
    """variant id -> quantity, over every active cart."""
    with app.app_context():
        return dict(
            db.session.execute(
                select(CartItem.variant_id, CartItem.quantity)
                .join(Cart, Cart.id == CartItem.cart_id)
                .where(Cart.status == CartStatus.ACTIVE)
            ).all()
        )


def item_id(app, variant_id: int) -> int:
    with app.app_context():
        return db.session.execute(
            select(CartItem.id).where(CartItem.variant_id == variant_id)
        ).scalar_one()


def add(client, variant_id, quantity="1", lang="fr", headers=None, token=None, **extra):
    token = token if token is not None else csrf_token(client, PATHS[lang]["cart"])
    data = {"variant_id": str(variant_id), "quantity": str(quantity), "csrf_token": token, **extra}
    return client.post(PATHS[lang]["add"], data=data, headers=headers or {})


def update(client, item, quantity, lang="fr", headers=None, token=None):
    token = token if token is not None else csrf_token(client, PATHS[lang]["cart"])
    data = {"quantity": str(quantity), "csrf_token": token}
    return client.post(PATHS[lang]["line"].format(item), data=data, headers=headers or {})


def remove(client, item, lang="fr", headers=None, token=None):
    token = token if token is not None else csrf_token(client, PATHS[lang]["cart"])
    return client.post(
        PATHS[lang]["remove"].format(item), data={"csrf_token": token}, headers=headers or {}
    )


def badge(html: str) -> str:
    match = re.search(r'<a id="cart-badge"[^>]*>(.*?)</a>', html, re.S)
    assert match, "no cart badge"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


# -- add, update, remove without JavaScript ----------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "added", "title", "price", "total", "empty"),
    [
        (
            "fr",
            "Ajouté à votre panier.",
            "Table en chêne n°\u00a03",
            "13,00\u00a0€",
            "39,00\u00a0€",
            "Votre panier est vide.",
        ),
        ("en", "Added to your cart.", "Oak table no. 3", "€13.00", "€39.00", "Your cart is empty."),
    ],
)
def test_add_update_remove_with_plain_forms(
    app, client, shop, lang, added, title, price, total, empty
):
    paths = PATHS[lang]
    variant = shop["SKU-3"]

    response = add(client, variant, 2, lang=lang)
    assert response.status_code == 303
    assert response.headers["Location"] == paths["cart"]
    page = html_of(client.get(paths["cart"]))
    assert added in page
    assert title in page and price in page
    assert lines(app) == {variant: 2}

    item = item_id(app, variant)
    response = update(client, item, 3, lang=lang)
    assert response.status_code == 303
    assert response.headers["Location"] == paths["cart"]
    page = html_of(client.get(paths["cart"]))
    assert f'id="quantity-{item}" type="number" name="quantity" value="3"' in page
    assert f'<strong id="cart-subtotal">{total}</strong>' in page
    assert lines(app) == {variant: 3}

    response = remove(client, item, lang=lang)
    assert response.status_code == 303
    page = html_of(client.get(paths["cart"]))
    assert empty in page
    assert lines(app) == {}


def stepper_forms(page: str, item: int) -> dict[str, str]:
    """The quantity each stepper form (one less, one more) of a line sends."""
    return dict(
        re.findall(
            rf'<form id="(less|more)-{item}" method="post" action="[^"]+/{item}"'
            rf'.*?name="quantity" value="(\d+)"',
            page,
            re.S,
        )
    )


def test_quantity_steppers_are_plain_submit_buttons_of_their_own_forms(app, client, shop):
    variant = shop["SKU-3"]
    add(client, variant, 1)
    item = item_id(app, variant)
    page = html_of(client.get("/fr/panier"))
    # Each stepper submits its own small form, so Enter in the field still means "Update".
    assert f'<button type="submit" form="less-{item}" class="stepper-button" disabled>' in page
    assert f'<button type="submit" form="more-{item}" class="stepper-button">' in page
    assert stepper_forms(page, item) == {"less": "0", "more": "2"}
    assert 'hx-trigger="change, submit"' in page  # a typed quantity is sent by itself

    # "One more", as the browser sends it without JavaScript: the stepper form's fields.
    token = csrf_token(client, "/fr/panier")
    response = client.post(f"/fr/panier/lignes/{item}", data={"csrf_token": token, "quantity": "2"})
    assert response.status_code == 303
    assert lines(app) == {variant: 2}
    page = html_of(client.get("/fr/panier"))
    assert f'<button type="submit" form="less-{item}" class="stepper-button">' in page
    assert stepper_forms(page, item) == {"less": "1", "more": "3"}

    # With HTMX: the cart section comes back with the badge.
    response = client.post(
        f"/fr/panier/lignes/{item}",
        data={"csrf_token": token, "quantity": "1"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = html_of(response)
    assert '<section id="cart"' in html and 'id="cart-badge"' in html
    assert lines(app) == {variant: 1}


def test_checkout_button_is_a_full_width_button(client, shop):
    add(client, shop["SKU-3"])
    page = html_of(client.get("/fr/panier"))
    assert '<a class="button button-large button-block" href="/fr/commande' in page


def test_adding_again_adds_to_the_same_line(app, client, shop):
    add(client, shop["SKU-3"], 2)
    add(client, shop["SKU-3"], 3)
    assert lines(app) == {shop["SKU-3"]: 5}
    with app.app_context():
        assert db.session.scalar(select(func.count(CartItem.id))) == 1


def test_cart_page_is_private_and_noindex(client, shop):
    add(client, shop["SKU-3"])
    response = client.get("/fr/panier")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert '<meta name="robots" content="noindex">' in html_of(response)
    assert "HX-Request" in response.headers["Vary"]


def test_cart_cookie_is_signed_httponly_lax_for_30_days(app, client, shop):
    response = add(client, shop["SKU-3"])
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("cart="))
    value = header.split(";")[0].removeprefix("cart=")
    with app.app_context():
        token = cart.read_signed_token(value)
        assert db.session.execute(select(Cart.token)).scalar_one() == token
    assert value != token
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert f"Max-Age={MONTH}" in header
    assert "Secure" not in header


def test_cart_cookie_is_secure_when_sessions_are(app, client, shop, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    token = csrf_token(client, "/fr/panier")
    response = add(client, shop["SKU-3"], token=token)
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("cart="))
    assert "Secure" in header


# -- HTMX ----------------------------------------------------------------------------------


def test_htmx_add_returns_the_form_and_the_badge_out_of_band(app, client, shop, hx):
    token = csrf_token(client, "/fr/produits/table-en-chene-n-3")
    response = add(client, shop["SKU-3"], 2, token="", headers=hx(**{"X-CSRFToken": token}))
    html = html_of(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<form id="add-to-cart"')
    assert "Ajouté à votre panier." in html
    assert '<a id="cart-badge" class="cart-badge" href="/fr/panier" hx-swap-oob="true">' in html
    assert badge(html) == "Panier 2 articles"
    assert "<html" not in html
    assert lines(app) == {shop["SKU-3"]: 2}


def test_htmx_update_and_remove_return_the_cart_and_the_badge(app, client, shop, hx):
    add(client, shop["SKU-3"], 1, lang="en")
    add(client, shop["SKU-4"], 1, lang="en")
    token = csrf_token(client, "/en/cart")
    headers = hx(**{"X-CSRFToken": token})
    item = item_id(app, shop["SKU-3"])

    response = update(client, item, 4, lang="en", headers=headers, token="")
    html = html_of(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="cart"')
    assert 'value="4"' in html
    assert '<strong id="cart-subtotal">€66.00</strong>' in html  # 4 x 13 + 14
    assert 'hx-swap-oob="true"' in html and badge(html) == "Cart 5 items"

    response = remove(client, item, lang="en", headers=headers, token="")
    html = html_of(response)
    assert response.status_code == 200
    assert f'id="line-{item}"' not in html
    assert '<strong id="cart-subtotal">€14.00</strong>' in html
    assert badge(html) == "Cart 1 item"
    assert lines(app) == {shop["SKU-4"]: 1}


def test_product_buybox_has_the_add_form_with_a_fresh_token(client, shop):
    first = html_of(client.get("/en/products/oak-table-no-3"))
    form = first.split('<form id="add-to-cart"', 1)[1].split("</form>", 1)[0]
    assert 'hx-post="/en/cart/add"' in form and 'action="/en/cart/add"' in form
    assert 'name="quantity" value="1" min="1" max="10"' in form
    assert "Add to cart" in form
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    assert token != "__comptoir_csrf_token__"
    assert token == re.search(r'<meta name="csrf-token" content="([^"]+)"', first).group(1)


def test_out_of_stock_variant_has_no_add_form(client, shop):
    html = html_of(client.get("/fr/produits/table-en-chene-n-5"))
    assert "Épuisé" in html
    assert 'id="add-to-cart"' not in html


# -- quantity rules: a translated 4xx, the input kept, nothing changed ----------------------------


ADD_REFUSALS = [
    # (variant sku, typed quantity, status, English message)
    ("SKU-3", "0", 422, "Please choose a quantity of at least 1."),
    ("SKU-3", "-1", 400, "Please enter a whole number, such as 1 or 2."),
    ("SKU-3", "abc", 400, "Please enter a whole number, such as 1 or 2."),
    ("SKU-3", "999999", 400, "Please enter a whole number, such as 1 or 2."),
    ("SKU-3", "", 400, "Please enter a whole number, such as 1 or 2."),
    ("SKU-2", "3", 422, "Sorry, only 2 are left in stock."),
    ("SKU-5", "1", 422, "Sorry, this item is out of stock."),
    ("SKU-3", "11", 422, "You can have at most 10 of this item in your cart."),
    ("CUPS", "11", 422, "You can have at most 10 of this item in your cart."),
    ("unknown", "1", 404, "Sorry, this item is not available."),
    ("SKU-DRAFT", "1", 404, "Sorry, this item is not available."),
    ("SKU-ARCHIVED", "1", 404, "Sorry, this item is not available."),
    ("abc", "1", 400, "Sorry, this item is not available."),
]


@pytest.mark.parametrize(("sku", "typed", "status", "message"), ADD_REFUSALS)
@pytest.mark.parametrize("htmx", [False, True])
def test_refused_adds_change_nothing(app, client, shop, hx, sku, typed, status, message, htmx):
    add(client, shop["SKU-4"], 1, lang="en")  # an existing cart, to show it is left alone
    before = state(app)
    variant = {"unknown": 99999999, "abc": "abc"}.get(sku) or shop[sku]
    token = csrf_token(client, "/en/cart")
    headers = hx(**{"X-CSRFToken": token}) if htmx else {}
    response = add(client, variant, typed, lang="en", headers=headers, token="" if htmx else token)
    html = html_of(response)
    assert response.status_code == status
    assert message in html
    assert f'name="quantity" value="{typed}"' in html
    assert 'aria-invalid="true"' in html
    assert html.lstrip().startswith('<form id="add-to-cart"') is htmx
    assert state(app) == before


def test_refused_first_add_leaves_no_empty_cart(app, client, shop):
    response = add(client, shop["SKU-3"], 11)
    assert response.status_code == 422
    assert "Vous pouvez avoir au plus 10 exemplaires de cet article dans votre panier." in html_of(
        response
    )
    assert state(app) == {"carts": [], "items": [], "events": 0}
    assert not any(h.startswith("cart=") for h in response.headers.getlist("Set-Cookie"))


def test_missing_csrf_token_is_a_400_with_the_form_kept(app, client, shop):
    add(client, shop["SKU-4"], 1)
    before = state(app)
    response = client.post(
        "/fr/panier/ajouter", data={"variant_id": shop["SKU-3"], "quantity": "2"}
    )
    html = html_of(response)
    assert response.status_code == 400
    assert "Votre session a expiré." in html
    assert 'name="quantity" value="2"' in html
    assert state(app) == before
    item = item_id(app, shop["SKU-4"])
    for url in (f"/fr/panier/lignes/{item}", f"/fr/panier/lignes/{item}/supprimer"):
        response = client.post(url, data={"quantity": "3"})
        assert response.status_code == 400
        assert f'id="line-{item}-error"' in html_of(response)
    assert state(app) == before


UPDATE_REFUSALS = [
    # (the line's sku, typed quantity, status, English message)
    ("SKU-3", "0", 422, "Please choose a quantity of at least 1."),
    ("SKU-3", "-1", 400, "Please enter a whole number, such as 1 or 2."),
    ("SKU-3", "abc", 400, "Please enter a whole number, such as 1 or 2."),
    ("SKU-3", "999999", 400, "Please enter a whole number, such as 1 or 2."),
    ("SKU-3", "11", 422, "You can have at most 10 of this item in your cart."),
    ("SKU-2", "3", 422, "Sorry, only 2 are left in stock."),
]


@pytest.mark.parametrize(("sku", "typed", "status", "message"), UPDATE_REFUSALS)
@pytest.mark.parametrize("htmx", [False, True])
def test_refused_updates_show_the_error_on_the_line(
    app, client, shop, hx, sku, typed, status, message, htmx
):
    add(client, shop["SKU-2"], 1, lang="en")  # 2 in stock
    add(client, shop["SKU-3"], 1, lang="en")  # 10 in stock
    item = item_id(app, shop[sku])
    before = state(app)
    token = csrf_token(client, "/en/cart")
    headers = hx(**{"X-CSRFToken": token}) if htmx else {}
    response = update(client, item, typed, lang="en", headers=headers, token="" if htmx else token)
    html = html_of(response)
    assert response.status_code == status
    line = html.split(f'id="line-{item}"', 1)[1].split("</li>", 1)[0]
    assert f'<p class="field-error" id="line-{item}-error" role="alert">{message}</p>' in line
    assert f'name="quantity" value="{typed}"' in line
    assert html.lstrip().startswith('<section id="cart"') is htmx
    assert state(app) == before


def test_refusals_are_translated(app, client, shop):
    add(client, shop["SKU-2"], 1)
    item = item_id(app, shop["SKU-2"])
    html = html_of(update(client, item, 5))
    assert "Désolé, il n’en reste que 2 en stock." in html
    html = html_of(update(client, item, "x"))
    assert "Veuillez saisir un nombre entier, par exemple 1 ou 2." in html
    html = html_of(add(client, shop["SKU-DRAFT"], 1))
    assert "Désolé, cet article n’est pas disponible." in html


def test_unknown_or_foreign_lines_are_404(app, client, shop, make_user):
    other = app.test_client()
    add(other, shop["SKU-3"], 1)
    theirs = item_id(app, shop["SKU-3"])
    add(client, shop["SKU-4"], 1)
    before = state(app)
    for response in (
        update(client, theirs, 2),
        remove(client, theirs),
        update(client, 2**31 - 2, 2),
        remove(client, 2**31 - 2),
    ):
        assert response.status_code == 404
        assert "Cet article n’est plus dans votre panier." in html_of(response)
    assert client.post(f"/fr/panier/lignes/{2**40}", data={"quantity": "1"}).status_code == 404
    assert state(app) == before


def test_untracked_variants_have_no_stock_limit(app, client, shop, monkeypatch):
    monkeypatch.setitem(app.config, "CART_MAX_PER_LINE", 40)
    assert add(client, shop["CUPS"], 40).status_code == 303
    assert lines(app) == {shop["CUPS"]: 40}


def test_per_line_maximum_comes_from_the_config(app, client, shop, monkeypatch):
    monkeypatch.setitem(app.config, "CART_MAX_PER_LINE", 3)
    assert add(client, shop["SKU-3"], 2).status_code == 303
    response = add(client, shop["SKU-3"], 2)  # 4 in the line
    assert response.status_code == 422
    assert "Vous pouvez avoir au plus 3 exemplaires" in html_of(response)
    assert lines(app) == {shop["SKU-3"]: 2}


def test_stock_held_by_other_checkouts_is_not_available(app, client, shop):
    with app.app_context():
        other = cart.get_or_create_cart(token=None, customer_id=None, locale="fr")
        cart.add_item(other.id, shop["SKU-2"], 2)
        inventory.hold_for_cart(other.id, [(shop["SKU-2"], 2)], tracked={shop["SKU-2"]})
        db.session.commit()
    response = add(client, shop["SKU-2"], 1)
    assert response.status_code == 422
    assert "Désolé, cet article est en rupture de stock." in html_of(response)


# -- prices --------------------------------------------------------------------------------


def test_price_change_notice_is_shown_once_and_the_current_price_is_charged(app, client, shop):
    variant = shop["SKU-3"]
    add(client, variant, 2)
    with app.app_context():
        catalogue_factory.change_price(variant, 1500)
    html = html_of(client.get("/fr/panier"))
    assert "Certains prix ont changé depuis que vous avez ajouté ces articles." in html
    assert "(13,00\u00a0€ quand vous l’avez ajouté)" in html
    assert '<strong id="cart-subtotal">30,00\u00a0€</strong>' in html
    with app.app_context():
        assert db.session.execute(select(CartItem.unit_price)).scalar_one() == 1500
    again = html_of(client.get("/fr/panier"))
    assert "Certains prix ont changé" not in again
    assert '<strong id="cart-subtotal">30,00\u00a0€</strong>' in again


def test_summary_lines(app, shop):
    with app.app_context():
        one = cart.get_or_create_cart(token=None, customer_id=None, locale="en")
        cart.add_item(one.id, shop["SKU-0-1"], 2)
        cart.add_item(one.id, shop["CUPS"], 1)
        cart.add_item(one.id, shop["SKU-4"], 1)
        product = db.session.get(ProductVariant, shop["SKU-4"]).product
        catalogue.set_status(product.id, ProductStatus.ARCHIVED)
        catalogue_factory.change_price(shop["SKU-0-1"], 1100)
        summary = cart.summary(one.id, "en")
    large, cups, archived = summary.lines
    assert (large.title, large.variant_label, large.sku) == ("Oak chair no. 0", "Large", "SKU-0-1")
    assert large.product_slug == "oak-chair-no-0"
    assert (large.unit_price, large.current_price, large.price_changed) == (1200, 1100, True)
    assert (large.quantity, large.line_total, large.available) == (2, 2200, 10)
    assert large.purchasable and large.image is None
    assert cups.available is None and cups.line_total == 3200
    assert archived.purchasable is False and archived.product_slug is None
    assert summary.quantity == 4
    assert summary.subtotal == 2200 + 3200  # the archived line cannot be bought
    assert summary.has_price_changes is True
    assert summary.can_check_out is False


def test_cart_page_runs_the_same_queries_for_1_or_8_lines(app, shop, queries):
    skus = ["SKU-0-0", "SKU-0-1", "SKU-2", "SKU-3", "SKU-4", "SKU-6", "SKU-7", "CUPS"]
    counts = []
    for count in (1, 8):
        client = app.test_client()
        for sku in skus[:count]:
            add(client, shop[sku], 1)
        with queries() as statements:
            page = client.get("/fr/panier")
        assert page.status_code == 200
        assert html_of(page).count('<li class="cart-line"') == count
        counts.append(len(statements))
    assert counts[0] == counts[1]
    assert counts[0] <= 4


# -- events, activity, locale, email ----------------------------------------------------------


def test_events_activity_locale_and_email(app, client, shop, auth, make_user):
    add(client, shop["SKU-3"], 2, lang="en")
    with app.app_context():
        first = db.session.execute(select(Cart)).scalar_one()
        assert (first.locale, first.email, first.customer_id) == ("en", None, None)
        activity = first.last_activity_at
    item = item_id(app, shop["SKU-3"])
    add(client, shop["SKU-3"], 1, lang="fr")
    update(client, item, 1)
    remove(client, item)
    with app.app_context():
        events = db.session.execute(
            select(CartEvent.kind, CartEvent.variant_id, CartEvent.quantity).order_by(CartEvent.id)
        ).all()
        assert events == [
            ("added", shop["SKU-3"], 2),
            ("added", shop["SKU-3"], 1),
            ("updated", shop["SKU-3"], 1),
            ("removed", shop["SKU-3"], 1),
        ]
        again = db.session.execute(select(Cart)).scalar_one()
        assert again.locale == "fr"
        assert again.last_activity_at > activity

    make_user("marie@example.com")
    customer = app.test_client()
    Auth(customer).login("marie@example.com")
    add(customer, shop["SKU-4"], 1)
    with app.app_context():
        theirs = db.session.execute(select(Cart).where(Cart.customer_id.is_not(None))).scalar_one()
        assert theirs.email == "marie@example.com"


def test_a_change_gives_back_the_checkout_holds(app, client, shop):
    add(client, shop["SKU-3"], 2)
    with app.app_context():
        cart_id = db.session.execute(select(Cart.id)).scalar_one()
        inventory.hold_for_cart(cart_id, [(shop["SKU-3"], 2)], tracked={shop["SKU-3"]})
        db.session.commit()
    update(client, item_id(app, shop["SKU-3"]), 3)
    with app.app_context():
        assert db.session.scalar(select(func.count(InventoryReservation.id))) == 0
        item = db.session.execute(
            select(InventoryItem).where(InventoryItem.variant_id == shop["SKU-3"])
        ).scalar_one()
        assert item.reserved == 0
    assert lines(app) == {shop["SKU-3"]: 3}


def test_double_click_makes_one_line(app, shop):
    with app.app_context():
        one = cart.get_or_create_cart(token=None, customer_id=None, locale="fr")
        cart.add_item(one.id, shop["SKU-4"], 1)
        cart_id = one.id
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def click() -> None:
        try:
            with app.app_context():
                start.wait()
                cart.add_item(cart_id, shop["SKU-3"], 1)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert lines(app) == {shop["SKU-4"]: 1, shop["SKU-3"]: 2}


# -- the cookie ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["garbage", "InRva2VuIg.forged", ""])
def test_tampered_cookie_is_refused_and_dropped(app, client, shop, value):
    add(app.test_client(), shop["SKU-4"], 1)  # someone else's cart
    before = state(app)
    token = csrf_token(client, "/fr/panier")
    client.set_cookie("cart", value or "x.y")
    response = add(client, shop["SKU-3"], 1, token=token)
    html = html_of(response)
    assert response.status_code == 400
    assert "Votre panier n’a pas pu être lu" in html
    assert any(
        h.startswith("cart=;") and "Max-Age=0" in h for h in response.headers.getlist("Set-Cookie")
    )
    assert state(app) == before
    client.set_cookie("cart", value or "x.y")
    page = client.get("/fr/panier")
    assert page.status_code == 400
    assert "Votre panier n’a pas pu être lu" in html_of(page)
    client.set_cookie("cart", value or "x.y")
    assert client.post("/fr/panier/lignes/1", data={"csrf_token": token}).status_code == 400
    # Product pages just show an empty badge.
    client.set_cookie("cart", value or "x.y")
    assert badge(html_of(client.get("/fr/produits/table-en-chene-n-3"))) == "Panier"
    assert state(app) == before


def test_a_signed_token_never_opens_a_customers_or_a_closed_cart(app, client, shop, make_user):
    user_id = make_user("marie@example.com")
    with app.app_context():
        theirs = cart.get_or_create_cart(token=None, customer_id=user_id, locale="fr")
        cart.add_item(theirs.id, shop["SKU-4"], 3)
        closed = cart.get_or_create_cart(token=None, customer_id=None, locale="fr")
        cart.add_item(closed.id, shop["SKU-2"], 1)
        closed.status = CartStatus.CONVERTED
        db.session.commit()
        signed = {
            "customer": cart.sign_token(theirs.token),
            "closed": cart.sign_token(closed.token),
        }
    for value in signed.values():
        visitor = app.test_client()
        visitor.set_cookie("cart", value)
        assert "Votre panier est vide." in html_of(visitor.get("/fr/panier"))
        assert add(visitor, shop["SKU-3"], 1).status_code == 303
    with app.app_context():
        fresh = (
            db.session.execute(
                select(Cart).where(Cart.customer_id.is_(None), Cart.status == CartStatus.ACTIVE)
            )
            .scalars()
            .all()
        )
        assert len(fresh) == 2
        assert all(c.token not in {theirs.token, closed.token} for c in fresh)
        assert (
            db.session.execute(
                select(CartItem.quantity).where(CartItem.cart_id == theirs.id)
            ).scalar_one()
            == 3
        )


# -- merge at login ------------------------------------------------------------------------


def test_login_merges_the_guest_cart_into_the_customers(app, client, shop, auth, make_user):
    user_id = make_user("marie@example.com")
    with app.app_context():
        theirs = cart.get_or_create_cart(token=None, customer_id=user_id, locale="fr")
        cart.add_item(theirs.id, shop["SKU-3"], 9)
        cart.add_item(theirs.id, shop["SKU-2"], 1)
        own_id = theirs.id
    add(client, shop["SKU-3"], 2)  # 9 + 2 > 10: capped at 10
    add(client, shop["SKU-2"], 2)  # 1 + 2 > 2 in stock: capped at 2
    add(client, shop["SKU-4"], 1)
    response = auth.login("marie@example.com")
    assert response.status_code == 303
    assert any(
        h.startswith("cart=;") and "Max-Age=0" in h for h in response.headers.getlist("Set-Cookie")
    )
    with app.app_context():
        carts = db.session.execute(select(Cart.id, Cart.status, Cart.customer_id)).all()
        guest = next(c for c in carts if c.id != own_id)
        assert guest.status == CartStatus.MERGED
        merged = db.session.execute(
            select(CartEvent.kind, CartEvent.quantity).where(CartEvent.cart_id == own_id)
        ).all()
        assert ("merged", 1 + 1 + 1) in merged
    assert lines(app) == {shop["SKU-3"]: 10, shop["SKU-2"]: 2, shop["SKU-4"]: 1}
    page = html_of(client.get("/fr/panier"))
    assert badge(page) == "Panier 13 articles"


def test_without_a_cart_of_their_own_the_customer_takes_the_guest_cart(
    app, client, shop, auth, make_user
):
    make_user("marie@example.com")
    add(client, shop["SKU-3"], 2)
    auth.login("marie@example.com")
    with app.app_context():
        only = db.session.execute(select(Cart)).scalar_one()
        assert only.status == CartStatus.ACTIVE
        assert only.email == "marie@example.com" and only.customer_id is not None
    assert lines(app) == {shop["SKU-3"]: 2}
    auth.logout()
    assert badge(html_of(client.get("/fr/panier"))) == "Panier"  # the cart left with them


def test_registration_merges_too(app, client, shop, auth):
    add(client, shop["SKU-3"], 2, lang="en")
    assert auth.register("paul@example.com", lang="en").status_code == 303
    with app.app_context():
        only = db.session.execute(select(Cart)).scalar_one()
        assert only.email == "paul@example.com"
    assert badge(html_of(client.get("/en/cart"))) == "Cart 2 items"


def test_a_bad_cookie_at_login_is_ignored(app, client, shop, auth, make_user):
    make_user("marie@example.com")
    client.set_cookie("cart", "forged")
    assert auth.login("marie@example.com").status_code == 303
    assert state(app)["carts"] == []


# -- the badge and the page cache ---------------------------------------------------------------


def test_badge_counts_units_on_every_page(app, client, shop):
    add(client, shop["SKU-3"], 2)
    add(client, shop["SKU-4"], 1)
    for path in ("/fr/", "/fr/produits/table-en-chene-n-3", "/fr/categories/mobilier"):
        assert badge(html_of(client.get(path))) == "Panier 3 articles"
    assert badge(html_of(client.get("/en/"))) == "Cart 3 items"


def test_anonymous_page_cache_is_bypassed_with_a_cart_cookie(app, client, shop, queries):
    path = "/fr/produits/table-en-chene-n-3"
    stranger = app.test_client()
    assert badge(html_of(stranger.get(path))) == "Panier"  # cached whole page
    with queries() as statements:
        assert badge(html_of(stranger.get(path))) == "Panier"
    assert statements == []  # no cookie, anonymous: the badge costs nothing

    add(client, shop["SKU-4"], 2)
    assert badge(html_of(client.get(path))) == "Panier 2 articles"
    with queries() as statements:
        html = html_of(client.get(path))  # page parts cached: only the badge is read
    assert badge(html) == "Panier 2 articles"
    assert len(statements) == 1
    assert badge(html_of(stranger.get(path))) == "Panier"
