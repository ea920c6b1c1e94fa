"""Card payment in Debian's Chromium with localstripe's fake Stripe.js (completed with
``createPaymentMethod`` by tests/localstripe_server.py): a card paid at once, 3-D Secure
through its modal, a declined card then a retry, a double-click, and the page without
JavaScript."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from shop.extensions import db
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus, PaymentStatus
from tests.test_payments import (
    CARD_3DS,
    CARD_DECLINED,
    CARD_OK,
    DECLINED_FR,
    payments_of,
    place_pending_order,
    status_of,
    stripe_client,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def order(app, live):
    """An order awaiting card payment: (id, payment page URL, where success should land)."""
    with app.app_context():
        order_id = place_pending_order()
        token = orders.access_token(db.session.get(Order, order_id))
    if "checkout.confirmation" in app.view_functions:
        landing = f"{live.url}/fr/commande/confirmation/{token}"
    else:  # the checkout blueprint is not there yet: the fallback is the home page
        landing = f"{live.url}/fr/"
    return order_id, f"{live.url}/fr/commande/{token}/payer", landing


def watch_console(page: Page) -> list[str]:
    """Console errors and page errors: CSP violations land here."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def enter_card(page: Page, number: str) -> None:
    """Type into localstripe's fake card element (one input per field)."""
    page.get_by_placeholder("number").fill(number)
    page.get_by_placeholder("exp_month").fill("12")
    page.get_by_placeholder("exp_year").fill("30")
    page.get_by_placeholder("cvc").fill("123")
    page.get_by_placeholder("postal_code").fill("69001")


def pay_button(page: Page):
    return page.locator("#card-payment button[type=submit]")


def test_a_card_becomes_a_payment_method_and_pays(app, page: Page, order, test_env):
    """Stripe.js makes the PaymentMethod; our server only ever receives its pm_ id."""
    order_id, url, landing = order
    problems = watch_console(page)
    sent: list[dict] = []
    stripe_calls: list[str] = []

    def seen(request) -> None:
        if request.method == "POST" and re.search(r"/carte$", request.url):
            sent.append(json.loads(request.post_data))
        if "/v1/" in request.url:
            stripe_calls.append(urlsplit(request.url).path)

    page.on("request", seen)
    page.goto(url)
    enter_card(page, CARD_OK)
    pay_button(page).click()

    expect(page).to_have_url(landing)
    [body] = sent
    assert set(body) == {"payment_method", "attempt"}
    assert re.fullmatch(r"pm_\w+", body["payment_method"])
    assert stripe_calls == ["/v1/payment_methods"]  # no token on the way
    with app.app_context():
        assert status_of(order_id) == OrderStatus.PAID
        [payment] = payments_of(order_id)
        assert payment.status == PaymentStatus.SUCCEEDED
        intent_id = payment.intent_id
    intent = stripe_client(test_env).v1.payment_intents.retrieve(intent_id)
    assert (intent.status, intent.payment_method) == ("succeeded", body["payment_method"])
    assert problems == []


def test_three_d_secure_through_the_fake_stripe_modal(app, page: Page, order):
    order_id, url, landing = order
    problems = watch_console(page)
    page.goto(url)
    expect(page.locator("#card-payment")).to_be_visible()
    expect(pay_button(page)).to_contain_text("75,90\u00a0€")

    enter_card(page, CARD_3DS)
    pay_button(page).click()
    page.get_by_role("button", name="Complete authentication").click()

    expect(page).to_have_url(landing)
    with app.app_context():
        assert status_of(order_id) == OrderStatus.PAID
        assert [p.status for p in payments_of(order_id)] == [PaymentStatus.SUCCEEDED]
    assert problems == []


def test_failed_authentication_then_a_declined_card_then_a_retry_pays(app, page: Page, order):
    order_id, url, landing = order
    problems = watch_console(page)
    page.goto(url)

    enter_card(page, CARD_3DS)
    pay_button(page).click()
    page.get_by_role("button", name="Fail authentication").click()
    expect(page.locator("#card-errors")).to_have_text(
        "Votre banque n’a pas confirmé le paiement (3-D Secure). "
        "Veuillez réessayer ou utiliser une autre carte."
    )
    expect(pay_button(page)).to_be_enabled()

    enter_card(page, CARD_DECLINED)
    pay_button(page).click()
    expect(page.locator("#card-errors")).to_have_text(DECLINED_FR)
    expect(pay_button(page)).to_be_enabled()
    with app.app_context():
        assert status_of(order_id) == OrderStatus.PENDING_PAYMENT

    enter_card(page, CARD_OK)
    pay_button(page).click()

    expect(page).to_have_url(landing)
    with app.app_context():
        assert status_of(order_id) == OrderStatus.PAID
        assert [p.status for p in payments_of(order_id)] == [
            PaymentStatus.FAILED,
            PaymentStatus.FAILED,
            PaymentStatus.SUCCEEDED,
        ]
    assert problems == []


def test_stripe_js_refusing_the_card_sends_nothing_to_our_server(app, page: Page, order):
    """createPaymentMethod answers {error} (an empty card here): its message is shown, the
    button comes back, and our server never hears of it."""
    order_id, url, _landing = order
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(url)

    pay_button(page).click()

    expect(page.locator("#card-errors")).to_have_text(re.compile(r"\S"))
    expect(pay_button(page)).to_be_enabled()
    assert [u for u in posts if re.search(r"/carte$", u)] == []
    with app.app_context():
        assert payments_of(order_id) == []


def test_a_double_click_on_pay_charges_once(app, page: Page, order):
    order_id, url, landing = order
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(url)
    enter_card(page, CARD_OK)

    pay_button(page).dblclick()

    expect(page).to_have_url(landing)
    assert len([u for u in posts if re.search(r"/carte$", u)]) == 1
    with app.app_context():
        assert [p.status for p in payments_of(order_id)] == [PaymentStatus.SUCCEEDED]


def test_without_javascript_the_page_says_to_pay_by_transfer(browser: Browser, order):
    _order_id, url, _landing = order
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(url)
        expect(page.locator("#card-payment")).to_be_hidden()
        expect(page.locator(".card-payment .notice")).to_be_visible()
    finally:
        context.close()
