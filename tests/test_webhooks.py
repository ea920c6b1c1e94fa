"""Stripe webhooks: signatures, each event once (replayed, out of order, racing the return
page), and real deliveries from localstripe to the live server."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

from shop.extensions import db
from shop.orders.models import OrderStatus, PaymentStatus
from shop.payments import stripe_gateway
from shop.payments.models import WebhookEvent
from tests.test_payments import (
    CARD_3DS,
    CARD_DECLINED,
    CARD_OK,
    authenticate,
    card_method,
    expected_sales,
    holds_of,
    outbox,
    payments_of,
    place_pending_order,
    sales_of,
    status_of,
    stripe_client,
)

WEBHOOK_ID = "comptoir-tests"
PATH = "/webhooks/stripe"


# -- helpers -----------------------------------------------------------------------------------


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Stripe's scheme: ``t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<payload>")``."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.".encode() + payload, hashlib.sha256)
    return {
        "Stripe-Signature": f"t={moment},v1={digest.hexdigest()}",
        "Content-Type": "application/json; charset=utf-8",
    }


def find_event(stripe_api, event_type: str, *, intent_id: str = "", order_id: int = 0):
    """The one event localstripe emitted of this type for this intent (or order)."""
    listed = stripe_api.v1.events.list(params={"type": event_type, "limit": 100})
    [event] = [
        e
        for e in listed.data
        if e.data.object.id == intent_id
        or e.data.object.metadata.to_dict().get("order_id") == str(order_id)
    ]
    return event


def stripe_event(stripe_api, event_type: str, *, intent_id: str = "", order_id: int = 0) -> bytes:
    """That event as the JSON localstripe sends."""
    event = find_event(stripe_api, event_type, intent_id=intent_id, order_id=order_id)
    return json.dumps(event.to_dict(for_json=True)).encode()


def made_up_event(event_type: str, obj: dict) -> bytes:
    return json.dumps(
        {
            "id": f"evt_test_{uuid.uuid4().hex[:16]}",
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }
    ).encode()


def recorded() -> list[tuple[str, str]]:
    db.session.rollback()  # a fresh snapshot: deliveries commit from the live server's threads
    rows = db.session.execute(
        db.select(WebhookEvent.type, WebhookEvent.event_id).order_by(WebhookEvent.id)
    )
    return [tuple(row) for row in rows]


def wait_for(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()
        if value := check():
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("nothing arrived in time")
        time.sleep(0.1)


def register_webhook(test_env: dict[str, str], url: str, events: list[str] | None = None) -> None:
    body: dict = {"url": url, "secret": test_env["STRIPE_WEBHOOK_SECRET"]}
    if events is not None:
        body["events"] = events
    request = urllib.request.Request(
        f"{test_env['STRIPE_API_BASE']}/_config/webhooks/{WEBHOOK_ID}",
        data=json.dumps(body).encode(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()


def post_live(url: str, payload: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=payload, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def stripe_api(test_env):
    return stripe_client(test_env)


@pytest.fixture
def secret(test_env) -> str:
    return test_env["STRIPE_WEBHOOK_SECRET"]


@pytest.fixture
def deliveries(live, test_env):
    """localstripe posts its events to the live server during the test, then stops."""
    url = live.url + PATH
    register_webhook(test_env, url)
    yield live
    register_webhook(test_env, url, events=[])


# -- signatures ----------------------------------------------------------------------------------


def test_forged_or_missing_signatures_are_refused_and_nothing_is_recorded(
    ctx, client, secret, stripe_api
):
    order_id = place_pending_order()
    outcome = stripe_gateway.pay_by_card(order_id, card_method(stripe_api, CARD_3DS), "a" * 32)
    payload = made_up_event(
        "payment_intent.succeeded",
        {"id": outcome.intent_id, "amount": 1, "metadata": {"order_id": str(order_id)}},
    )
    tampered = payload.replace(b'"amount": 1', b'"amount": 9')

    answers = [
        client.post(PATH, data=payload, headers=sign(payload, "whsec_forged")).status_code,
        client.post(PATH, data=tampered, headers=sign(payload, secret)).status_code,
        client.post(
            PATH, data=payload, headers=sign(payload, secret, int(time.time()) - 3600)
        ).status_code,
        client.post(PATH, data=payload, headers={"Content-Type": "application/json"}).status_code,
        client.post(PATH, data=b"not json", headers=sign(b"not json", secret)).status_code,
    ]

    assert answers == [400, 400, 400, 400, 400]
    assert recorded() == []
    assert status_of(order_id) == OrderStatus.PENDING_PAYMENT


def test_no_webhook_secret_means_every_delivery_is_refused(ctx, client, monkeypatch, secret):
    payload = made_up_event("customer.created", {"id": "cus_1"})
    monkeypatch.setitem(ctx.config, "STRIPE_WEBHOOK_SECRET", None)

    assert client.post(PATH, data=payload, headers=sign(payload, secret)).status_code == 400
    assert recorded() == []


def test_only_post_is_allowed(client):
    assert client.get(PATH).status_code == 405


def test_an_unknown_event_type_is_acknowledged_logged_and_recorded(ctx, client, secret):
    payload = made_up_event("customer.created", {"id": "cus_1"})

    response = client.post(PATH, data=payload, headers=sign(payload, secret))

    assert (response.status_code, response.get_data(as_text=True)) == (200, "ignored")
    assert recorded() == [("customer.created", json.loads(payload)["id"])]


# -- each event once ---------------------------------------------------------------------------


def test_the_same_event_three_times_and_out_of_order_pays_once(
    ctx, client, secret, stripe_api, test_env
):
    """A declined attempt, then a 3-D Secure one completed in the page but never finished:
    its success arrives three times, the first attempt's failure arrives after it."""
    order_id = place_pending_order()
    declined = stripe_gateway.pay_by_card(
        order_id, card_method(stripe_api, CARD_DECLINED), uuid.uuid4().hex
    )
    assert declined.status == "failed"
    waiting = stripe_gateway.pay_by_card(
        order_id, card_method(stripe_api, CARD_3DS), uuid.uuid4().hex
    )
    authenticate(test_env, waiting.client_secret)
    succeeded = stripe_event(stripe_api, "payment_intent.succeeded", intent_id=waiting.intent_id)
    failed = stripe_event(stripe_api, "payment_intent.payment_failed", order_id=order_id)

    answers = [
        client.post(PATH, data=body, headers=sign(body, secret)).get_data(as_text=True)
        for body in (succeeded, succeeded, failed, succeeded)
    ]

    assert answers == ["handled", "duplicate", "handled", "duplicate"]
    assert status_of(order_id) == OrderStatus.PAID
    assert [(p.intent_id, p.status) for p in payments_of(order_id)] == [
        (declined.intent_id, PaymentStatus.FAILED),
        (waiting.intent_id, PaymentStatus.SUCCEEDED),
    ]
    assert sales_of(order_id) == expected_sales(order_id)
    assert holds_of(order_id) == []
    assert len(outbox("order_paid")) == 1
    assert [t for t, _ in recorded()] == [
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
    ]
    # The return page, arriving last, sees the payment the webhook made.
    assert stripe_gateway.finish(order_id, waiting.intent_id).status == "succeeded"
    assert len(outbox("order_paid")) == 1


def test_a_failure_event_keeps_the_order_payable(ctx, client, secret, stripe_api):
    order_id = place_pending_order()
    declined = stripe_gateway.pay_by_card(
        order_id, card_method(stripe_api, CARD_DECLINED), uuid.uuid4().hex
    )
    holds = holds_of(order_id)
    body = stripe_event(stripe_api, "payment_intent.payment_failed", order_id=order_id)

    response = client.post(PATH, data=body, headers=sign(body, secret))

    assert response.get_data(as_text=True) == "handled"
    assert status_of(order_id) == OrderStatus.PENDING_PAYMENT
    assert holds_of(order_id) == holds
    assert [p.status for p in payments_of(order_id)] == [PaymentStatus.FAILED]
    assert declined.status == "failed"


def test_an_event_whose_processing_fails_is_not_recorded_so_the_retry_is_processed(
    ctx, client, secret
):
    order_id = place_pending_order()
    event_id = "evt_test_retry_me"
    broken = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": "pi_retry", "metadata": {"order_id": str(order_id)}}},
        }
    ).encode()  # no amount: the handler raises
    whole = broken.replace(b'"id": "pi_retry"', b'"id": "pi_retry", "amount": 7590')

    first = client.post(PATH, data=broken, headers=sign(broken, secret))

    assert first.status_code == 500
    assert recorded() == []
    assert status_of(order_id) == OrderStatus.PENDING_PAYMENT

    retry = client.post(PATH, data=whole, headers=sign(whole, secret))

    assert (retry.status_code, retry.get_data(as_text=True)) == (200, "handled")
    assert recorded() == [("payment_intent.succeeded", event_id)]
    assert status_of(order_id) == OrderStatus.PAID
    assert [(p.intent_id, p.status) for p in payments_of(order_id)] == [
        ("pi_retry", PaymentStatus.SUCCEEDED)
    ]


def test_an_event_for_an_order_we_do_not_have_is_acknowledged(ctx, client, secret):
    payload = made_up_event(
        "payment_intent.succeeded",
        {"id": "pi_elsewhere", "amount": 100, "metadata": {"order_id": "987654321"}},
    )

    response = client.post(PATH, data=payload, headers=sign(payload, secret))

    assert (response.status_code, response.get_data(as_text=True)) == (200, "handled")
    assert len(recorded()) == 1


# -- real deliveries from localstripe --------------------------------------------------------


def test_localstripe_delivers_and_the_webhook_alone_pays_the_order(
    app, deliveries, stripe_api, test_env
):
    with app.app_context():
        order_id = place_pending_order()
        outcome = stripe_gateway.pay_by_card(
            order_id, card_method(stripe_api, CARD_3DS), uuid.uuid4().hex
        )

        authenticate(test_env, outcome.client_secret)  # the page's 3-D Secure; no "finish"

        wait_for(lambda: status_of(order_id) == OrderStatus.PAID)
        event = find_event(stripe_api, "payment_intent.succeeded", intent_id=outcome.intent_id)
        assert ("payment_intent.succeeded", event.id) in recorded()
        assert [(p.intent_id, p.status) for p in payments_of(order_id)] == [
            (outcome.intent_id, PaymentStatus.SUCCEEDED)
        ]
        assert sales_of(order_id) == expected_sales(order_id)
        assert len(outbox("order_paid")) == 1


def test_localstripe_delivers_a_decline_and_a_paid_card_after_the_page_did(
    app, deliveries, stripe_api
):
    with app.app_context():
        order_id = place_pending_order()
        stripe_gateway.pay_by_card(
            order_id, card_method(stripe_api, CARD_DECLINED), uuid.uuid4().hex
        )
        paid = stripe_gateway.pay_by_card(
            order_id, card_method(stripe_api, CARD_OK), uuid.uuid4().hex
        )
        assert paid.status == "succeeded"

        ours = {
            (
                "payment_intent.payment_failed",
                find_event(stripe_api, "payment_intent.payment_failed", order_id=order_id).id,
            ),
            (
                "payment_intent.succeeded",
                find_event(stripe_api, "payment_intent.succeeded", intent_id=paid.intent_id).id,
            ),
        }

        wait_for(lambda: ours <= set(recorded()))

        assert status_of(order_id) == OrderStatus.PAID
        assert [p.status for p in payments_of(order_id)] == [
            PaymentStatus.FAILED,
            PaymentStatus.SUCCEEDED,
        ]
        assert sales_of(order_id) == expected_sales(order_id)
        assert len(outbox("order_paid")) == 1


def test_deliveries_racing_the_return_page_pay_exactly_once(
    app, deliveries, stripe_api, test_env, secret
):
    with app.app_context():
        order_id = place_pending_order()
        outcome = stripe_gateway.pay_by_card(
            order_id, card_method(stripe_api, CARD_3DS), uuid.uuid4().hex
        )
    authenticate(test_env, outcome.client_secret)  # localstripe delivers its event in ~1 s
    started = time.monotonic()
    event = find_event(stripe_api, "payment_intent.succeeded", intent_id=outcome.intent_id)
    payload = json.dumps(event.to_dict(for_json=True)).encode()
    go = threading.Barrier(6)
    answers: list[int] = []
    finished: list[str] = []

    def replay() -> None:
        headers = sign(payload, secret)
        go.wait()
        answers.append(post_live(deliveries.url + PATH, payload, headers))

    def return_page() -> None:
        with app.app_context():
            go.wait()
            finished.append(stripe_gateway.finish(order_id, outcome.intent_id).status)

    threads = [threading.Thread(target=replay) for _ in range(3)]
    threads += [threading.Thread(target=return_page) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    time.sleep(max(0.0, 2.5 - (time.monotonic() - started)))  # localstripe's own delivery too

    assert answers == [200, 200, 200]
    assert finished == ["succeeded", "succeeded", "succeeded"]
    with app.app_context():
        assert status_of(order_id) == OrderStatus.PAID
        assert [(p.intent_id, p.status) for p in payments_of(order_id)] == [
            (outcome.intent_id, PaymentStatus.SUCCEEDED)
        ]
        assert sales_of(order_id) == expected_sales(order_id)
        assert len(outbox("order_paid")) == 1
        assert [e for e in recorded() if e[1] == event.id] == [
            ("payment_intent.succeeded", event.id)
        ]
