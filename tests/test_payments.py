"""Card payments through localstripe with the official library, paid with PaymentMethods as
Stripe.js makes them: paid, 3-D Secure, declined and retried, double submits, anything but a
``pm_…`` id refused, refunds; and the JSON endpoints the payment page's script calls."""

from __future__ import annotations

import json
import re
import threading
import urllib.request
import uuid
from datetime import timedelta

import pytest
import stripe

from shop.cart.models import Cart
from shop.catalogue.models import ProductStatus
from shop.catalogue.services import Text, VariantInput
from shop.clock import utcnow
from shop.extensions import db
from shop.inventory import services as inventory
from shop.inventory.models import InventoryItem, InventoryMovement, InventoryReservation
from shop.orders import services as orders
from shop.orders.models import Order, OrderLine, OrderStatus, Payment, PaymentStatus, Refund
from shop.outbox.models import OutboxEvent
from shop.payments import stripe_gateway
from shop.payments.stripe_gateway import Outcome
from tests import catalogue_factory

CARD_OK = "4242424242424242"
CARD_3DS = "4000002760003184"
CARD_DECLINED = "4000000000000341"

DECLINED_FR = (
    "Votre carte a été refusée. Veuillez utiliser une autre carte ou payer par virement bancaire."
)
DECLINED_EN = "Your card was declined. Please use another card or pay by bank transfer."
AUTH_FAILED_FR = (
    "Votre banque n’a pas confirmé le paiement (3-D Secure). "
    "Veuillez réessayer ou utiliser une autre carte."
)
NOT_AWAITING_FR = "Cette commande n’est plus en attente de paiement."

LINES = ((1500, 2), (4000, 1))  # unit price, quantity
SHIPPING = 590
TOTAL = 1500 * 2 + 4000 + SHIPPING


# -- building orders (real services, no SQL fixtures) -----------------------------------------


def place_pending_order(
    *, stock: int = 10, locale: str = "fr", payment_method: str = "card"
) -> int:
    """Two stocked variants, held for a cart, then owned by an order awaiting payment."""
    tag = uuid.uuid4().hex[:8]
    variants = []
    for position, (price, _quantity) in enumerate(LINES):
        product = catalogue_factory.product(
            {
                "fr": Text(
                    title=f"Lampe {tag} n°\u00a0{position}", description="<p>Une lampe.</p>"
                ),
                "en": Text(title=f"Lamp {tag} no. {position}", description="<p>A lamp.</p>"),
            },
            status=ProductStatus.ACTIVE,
            variants=[VariantInput(sku=f"PAY-{tag}-{position}", price=price)],
        )
        variants.append(product.variants[0])
    for variant in variants:
        inventory.receive(variant.id, stock, reason="initial stock")
    cart = Cart(token=uuid.uuid4().hex, locale=locale)
    db.session.add(cart)
    db.session.flush()
    wanted = [(v.id, quantity) for v, (_price, quantity) in zip(variants, LINES, strict=True)]
    inventory.hold_for_cart(cart.id, wanted, tracked={v.id for v in variants})
    subtotal = sum(price * quantity for price, quantity in LINES)
    address = {
        "first_name": "Camille",
        "last_name": "Martin",
        "line1": "3 rue des Lilas",
        "postal_code": "69001",
        "city": "Lyon",
        "country": "FR",
    }
    order = Order(
        number=orders.next_number(),
        status=OrderStatus.PENDING_PAYMENT,
        cart_id=cart.id,
        email=f"camille-{tag}@example.com",
        locale=locale,
        currency="EUR",
        prices_include_tax=True,
        subtotal=subtotal,
        shipping_total=SHIPPING,
        tax_total=round(subtotal / 6),
        total=subtotal + SHIPPING,
        shipping_address=address,
        billing_address=address,
        shipping_method_code="colissimo",
        shipping_method_name={"fr": "Colissimo", "en": "Colissimo"},
        payment_method=payment_method,
        placed_at=utcnow(),
    )
    for variant, (price, quantity) in zip(variants, LINES, strict=True):
        order.lines.append(
            OrderLine(
                variant_id=variant.id,
                product_id=variant.product_id,
                sku=variant.sku,
                title_fr=f"Lampe {tag}",
                title_en=f"Lamp {tag}",
                quantity=quantity,
                unit_price=price,
                tax_class="standard",
                line_total=price * quantity,
            )
        )
    db.session.add(order)
    db.session.flush()
    inventory.attach_holds_to_order(cart.id, order.id, until=utcnow() + timedelta(minutes=30))
    db.session.commit()
    return order.id


def stripe_client(test_env: dict[str, str]) -> stripe.StripeClient:
    return stripe.StripeClient(
        test_env["STRIPE_SECRET_KEY"], base_addresses={"api": test_env["STRIPE_API_BASE"]}
    )


CARD = {"exp_month": 12, "exp_year": 2030, "cvc": "123"}


def card_method(client: stripe.StripeClient, number: str) -> str:
    """What Stripe.js's ``createPaymentMethod({type: "card", card})`` gives the page: the id
    of a PaymentMethod (we never see the card)."""
    params = {"type": "card", "card": {"number": number, **CARD}}
    return client.v1.payment_methods.create(params=params).id


def authenticate(test_env: dict[str, str], client_secret: str, *, success: bool = True) -> None:
    """What localstripe's fake Stripe.js does when the buyer clicks "Complete authentication"
    (or "Fail authentication") in its 3-D Secure modal: ``confirmCardPayment`` posts this."""
    intent_id = client_secret.split("_secret_")[0]
    request = urllib.request.Request(
        f"{test_env['STRIPE_API_BASE']}/v1/payment_intents/{intent_id}/_authenticate"
        f"?success={'true' if success else 'false'}",
        data=json.dumps(
            {"key": test_env["STRIPE_PUBLISHABLE_KEY"], "client_secret": client_secret}
        ).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def attempt() -> str:
    return uuid.uuid4().hex


# -- what the database says --------------------------------------------------------------------


def payments_of(order_id: int) -> list[Payment]:
    return list(
        db.session.execute(
            db.select(Payment).where(Payment.order_id == order_id).order_by(Payment.id)
        ).scalars()
    )


def outbox(event_type: str) -> list[dict]:
    return [
        e.payload
        for e in db.session.execute(
            db.select(OutboxEvent).where(OutboxEvent.type == event_type).order_by(OutboxEvent.id)
        ).scalars()
    ]


def sales_of(order_id: int) -> list[tuple[str, int]]:
    rows = db.session.execute(
        db.select(OrderLine.sku, InventoryMovement.quantity)
        .join(OrderLine, OrderLine.variant_id == InventoryMovement.variant_id)
        .where(InventoryMovement.order_id == order_id, InventoryMovement.kind == "sale")
        .where(OrderLine.order_id == order_id)
        .order_by(OrderLine.sku)
    )
    return [tuple(row) for row in rows]


def holds_of(order_id: int) -> list[tuple[int, int]]:
    rows = db.session.execute(
        db.select(InventoryReservation.variant_id, InventoryReservation.quantity)
        .where(InventoryReservation.order_id == order_id)
        .order_by(InventoryReservation.variant_id)
    )
    return [tuple(row) for row in rows]


def stock_of(order_id: int) -> list[tuple[int, int]]:
    """(on hand, reserved) for each variant of the order, in line order."""
    rows = db.session.execute(
        db.select(InventoryItem.on_hand, InventoryItem.reserved)
        .join(OrderLine, OrderLine.variant_id == InventoryItem.variant_id)
        .where(OrderLine.order_id == order_id)
        .order_by(OrderLine.id)
    )
    return [tuple(row) for row in rows]


def events_count() -> int:
    return db.session.execute(db.select(db.func.count(OutboxEvent.id))).scalar_one()


def status_of(order_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Order, order_id).status


def expected_sales(order_id: int) -> list[tuple[str, int]]:
    order = db.session.get(Order, order_id)
    return sorted((line.sku, -line.quantity) for line in order.lines)


def intents_for(client: stripe.StripeClient, order_id: int) -> list:
    listed = client.v1.payment_intents.list(params={"limit": 100})
    return [i for i in listed.data if i.metadata.to_dict().get("order_id") == str(order_id)]


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def order_id(ctx) -> int:
    return place_pending_order()


@pytest.fixture
def stripe_api(test_env) -> stripe.StripeClient:
    return stripe_client(test_env)


# -- the service ----------------------------------------------------------------------------------


def test_a_card_payment_pays_the_order_once(order_id, stripe_api):
    key = attempt()

    outcome = stripe_gateway.pay_by_card(order_id, card_method(stripe_api, CARD_OK), key)

    assert outcome.status == "succeeded"
    assert outcome.intent_id.startswith("pi_")
    assert outcome.message is None
    assert status_of(order_id) == OrderStatus.PAID
    [payment] = payments_of(order_id)
    assert (payment.provider, payment.status, payment.amount, payment.currency) == (
        "stripe",
        PaymentStatus.SUCCEEDED,
        TOTAL,
        "EUR",
    )
    assert (payment.intent_id, payment.idempotency_key) == (outcome.intent_id, key)
    assert payment.succeeded_at is not None
    assert [p["order_id"] for p in outbox("order_paid")] == [order_id]
    assert sales_of(order_id) == expected_sales(order_id)
    assert holds_of(order_id) == []
    assert stock_of(order_id) == [(8, 0), (9, 0)]
    intent = stripe_api.v1.payment_intents.retrieve(outcome.intent_id)
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", TOTAL, "eur")
    assert intent.metadata.to_dict() == {
        "order_id": str(order_id),
        "order_number": db.session.get(Order, order_id).number,
    }
    assert stripe_gateway.charge_id(intent.to_dict()).startswith(
        "ch_"
    )  # localstripe embeds the charge


def test_latest_charge_is_read_as_an_id_or_an_embedded_object():
    assert stripe_gateway.charge_id({"latest_charge": "ch_123"}) == "ch_123"
    assert stripe_gateway.charge_id({"latest_charge": {"id": "ch_456", "amount": 1}}) == "ch_456"
    assert stripe_gateway.charge_id({"latest_charge": None}) is None


def test_three_d_secure_then_finish_pays_the_order(order_id, stripe_api, test_env):
    outcome = stripe_gateway.pay_by_card(order_id, card_method(stripe_api, CARD_3DS), attempt())

    assert outcome.status == "requires_action"
    assert outcome.client_secret.startswith(outcome.intent_id + "_secret_")
    assert status_of(order_id) == OrderStatus.PENDING_PAYMENT
    assert [p.status for p in payments_of(order_id)] == [PaymentStatus.REQUIRES_ACTION]
    assert len(holds_of(order_id)) == 2

    authenticate(test_env, outcome.client_secret)
    finished = stripe_gateway.finish(order_id, outcome.intent_id)

    assert finished == Outcome("succeeded", outcome.intent_id)
    assert status_of(order_id) == OrderStatus.PAID
    assert [(p.status, p.intent_id) for p in payments_of(order_id)] == [
        (PaymentStatus.SUCCEEDED, outcome.intent_id)
    ]
    assert sales_of(order_id) == expected_sales(order_id)
    assert len(outbox("order_paid")) == 1
    # The page posting "finish" twice (or after the webhook) changes nothing.
    assert stripe_gateway.finish(order_id, outcome.intent_id).status == "succeeded"
    assert len(outbox("order_paid")) == 1


def test_failed_three_d_secure_leaves_the_order_payable(order_id, stripe_api, test_env):
    outcome = stripe_gateway.pay_by_card(order_id, card_method(stripe_api, CARD_3DS), attempt())
    authenticate(test_env, outcome.client_secret, success=False)

    finished = stripe_gateway.finish(order_id, outcome.intent_id)

    assert finished == Outcome("failed", outcome.intent_id, message=AUTH_FAILED_FR)
    assert status_of(order_id) == OrderStatus.PENDING_PAYMENT
    [payment] = payments_of(order_id)
    assert payment.status == PaymentStatus.FAILED
    assert payment.last_error.startswith("payment_intent_authentication_failure: ")
    assert len(holds_of(order_id)) == 2


def test_a_declined_card_keeps_the_order_and_its_holds_then_a_retry_pays(order_id, stripe_api):
    holds, stock = holds_of(order_id), stock_of(order_id)

    declined = stripe_gateway.pay_by_card(
        order_id, card_method(stripe_api, CARD_DECLINED), attempt()
    )

    assert declined.status == "failed"
    assert declined.message == DECLINED_FR
    assert declined.client_secret is None
    assert status_of(order_id) == OrderStatus.PENDING_PAYMENT
    assert holds_of(order_id) == holds
    assert stock_of(order_id) == stock == [(10, 2), (10, 1)]
    [payment] = payments_of(order_id)
    assert payment.status == PaymentStatus.FAILED
    assert payment.last_error == "card_declined: Your card was declined."
    assert outbox("order_paid") == []

    retried = stripe_gateway.pay_by_card(order_id, card_method(stripe_api, CARD_OK), attempt())

    assert retried.status == "succeeded"
    assert status_of(order_id) == OrderStatus.PAID
    assert [p.status for p in payments_of(order_id)] == [
        PaymentStatus.FAILED,
        PaymentStatus.SUCCEEDED,
    ]
    assert sales_of(order_id) == expected_sales(order_id)
    assert len(outbox("order_paid")) == 1


def test_the_same_attempt_twice_charges_once(order_id, stripe_api):
    key = attempt()
    first = stripe_gateway.pay_by_card(order_id, card_method(stripe_api, CARD_OK), key)

    again = stripe_gateway.pay_by_card(order_id, card_method(stripe_api, CARD_OK), key)

    assert again == first == Outcome("succeeded", first.intent_id)
    assert len(payments_of(order_id)) == 1
    assert [i.id for i in intents_for(stripe_api, order_id)] == [first.intent_id]
    assert len(outbox("order_paid")) == 1


def test_a_double_click_racing_itself_charges_once(app, order_id, stripe_api):
    key = attempt()
    methods = [card_method(stripe_api, CARD_OK), card_method(stripe_api, CARD_OK)]
    outcomes: list[Outcome] = []
    start = threading.Barrier(2)

    def press(method: str) -> None:
        with app.app_context():
            start.wait()
            outcomes.append(stripe_gateway.pay_by_card(order_id, method, key))

    threads = [threading.Thread(target=press, args=(method,)) for method in methods]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert [o.status for o in outcomes] == ["succeeded", "succeeded"]
    assert outcomes[0].intent_id == outcomes[1].intent_id
    assert len(intents_for(stripe_api, order_id)) == 1
    assert [p.status for p in payments_of(order_id)] == [PaymentStatus.SUCCEEDED]
    assert sales_of(order_id) == expected_sales(order_id)


def test_the_same_declined_attempt_answers_the_same_message(order_id, stripe_api):
    key = attempt()
    first = stripe_gateway.pay_by_card(order_id, card_method(stripe_api, CARD_DECLINED), key)

    again = stripe_gateway.pay_by_card(order_id, card_method(stripe_api, CARD_OK), key)

    assert again == first
    assert again.message == DECLINED_FR
    assert status_of(order_id) == OrderStatus.PENDING_PAYMENT
    assert len(payments_of(order_id)) == 1


def test_a_new_attempt_cancels_one_left_at_three_d_secure(order_id, stripe_api):
    left = stripe_gateway.pay_by_card(order_id, card_method(stripe_api, CARD_3DS), attempt())

    paid = stripe_gateway.pay_by_card(order_id, card_method(stripe_api, CARD_OK), attempt())

    assert paid.status == "succeeded"
    assert stripe_api.v1.payment_intents.retrieve(left.intent_id).status == "canceled"
    assert [(p.intent_id, p.status) for p in payments_of(order_id)] == [
        (left.intent_id, PaymentStatus.CANCELLED),
        (paid.intent_id, PaymentStatus.SUCCEEDED),
    ]
    with pytest.raises(stripe_gateway.NotAwaitingPayment):
        stripe_gateway.finish(order_id, left.intent_id)


def test_an_order_that_is_not_awaiting_payment_is_refused(order_id, stripe_api):
    orders.cancel(order_id)

    with pytest.raises(stripe_gateway.NotAwaitingPayment):
        stripe_gateway.pay_by_card(order_id, card_method(stripe_api, CARD_OK), attempt())

    assert payments_of(order_id) == []
    assert intents_for(stripe_api, order_id) == []


def charges_at_stripe(client: stripe.StripeClient) -> list[str]:
    return [c.id for c in client.v1.charges.list(params={"limit": 100}).auto_paging_iter()]


def test_a_payment_method_made_with_the_official_library_pays_the_order_once(order_id, stripe_api):
    """What Stripe.js does in the page, done with the official library: a card becomes a
    PaymentMethod, and only its id reaches us."""
    method = stripe_api.v1.payment_methods.create(
        params={"type": "card", "card": {"number": CARD_OK, **CARD}}
    )
    assert (method.id[:3], method.type, method.card.last4) == ("pm_", "card", "4242")
    key = attempt()

    paid = stripe_gateway.pay_by_card(order_id, method.id, key)
    again = stripe_gateway.pay_by_card(order_id, method.id, key)

    assert again == paid == Outcome("succeeded", paid.intent_id)
    assert status_of(order_id) == OrderStatus.PAID
    [payment] = payments_of(order_id)
    assert (payment.status, payment.intent_id) == (PaymentStatus.SUCCEEDED, paid.intent_id)
    [intent] = intents_for(stripe_api, order_id)
    assert (intent.id, intent.payment_method, intent.status) == (
        paid.intent_id,
        method.id,
        "succeeded",
    )
    assert sales_of(order_id) == expected_sales(order_id)
    assert len(outbox("order_paid")) == 1


def a_card_token(client: stripe.StripeClient) -> str:
    return client.v1.tokens.create(params={"card": {"number": CARD_OK, **CARD}}).id


def the_card_behind_a_token(client: stripe.StripeClient) -> str:
    token = client.v1.tokens.create(params={"card": {"number": CARD_OK, **CARD}})
    return token.card.id


@pytest.mark.parametrize(
    "sent",
    [
        a_card_token,  # tok_…: what the page used to send
        the_card_behind_a_token,  # card_…: what the server used to pay with
        lambda _client: "pm_doesnotexist",  # shaped right, unknown to Stripe
        lambda _client: "",
        lambda _client: "bogus",
        lambda _client: "pm_",
        lambda _client: "pm_abc def",
        lambda _client: "pm_abc\n",
        lambda _client: "PM_abc",
        lambda _client: "pm_" + "a" * 300,
    ],
    ids=[
        "token",
        "card",
        "unknown",
        "empty",
        "bogus",
        "prefix",
        "space",
        "newline",
        "case",
        "long",
    ],
)
def test_anything_but_a_payment_method_is_refused_and_nothing_is_charged(
    order_id, stripe_api, sent
):
    posted = sent(stripe_api)
    charges, holds, stock = charges_at_stripe(stripe_api), holds_of(order_id), stock_of(order_id)
    events = events_count()

    with pytest.raises(stripe_gateway.InvalidPaymentMethod) as refused:
        stripe_gateway.pay_by_card(order_id, posted, attempt())

    assert str(refused.value.message) == (
        "Les informations de votre carte n’ont pas pu être utilisées. "
        "Veuillez les saisir à nouveau."
    )
    assert payments_of(order_id) == []
    assert status_of(order_id) == OrderStatus.PENDING_PAYMENT
    assert (holds_of(order_id), stock_of(order_id)) == (holds, stock)
    assert events_count() == events
    assert intents_for(stripe_api, order_id) == []
    assert charges_at_stripe(stripe_api) == charges
    # The order row was released: a real PaymentMethod pays it at once.
    paid = stripe_gateway.pay_by_card(order_id, card_method(stripe_api, CARD_OK), attempt())
    assert paid.status == "succeeded"


def test_finish_refuses_an_intent_of_another_order(ctx, stripe_api):
    first, second = place_pending_order(), place_pending_order()
    outcome = stripe_gateway.pay_by_card(first, card_method(stripe_api, CARD_3DS), attempt())

    with pytest.raises(stripe_gateway.UnknownPayment):
        stripe_gateway.finish(second, outcome.intent_id)


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        (
            ("insufficient_funds", "card_declined"),
            "Le solde de votre carte est insuffisant. Veuillez utiliser une autre carte.",
        ),
        ((None, "expired_card"), "Votre carte a expiré. Veuillez utiliser une autre carte."),
        (("fraudulent", "card_declined"), DECLINED_FR),
        ((None, None), DECLINED_FR),
    ],
)
def test_decline_codes_become_friendly_messages(ctx, codes, message):
    assert stripe_gateway.decline_message(*codes) == message


def test_no_keys_means_no_card_payment(app, monkeypatch):
    with app.app_context():
        assert stripe_gateway.enabled() is True
        monkeypatch.setitem(app.config, "STRIPE_PUBLISHABLE_KEY", None)
        assert stripe_gateway.enabled() is False
        monkeypatch.setitem(app.config, "STRIPE_PUBLISHABLE_KEY", "pk_test_comptoir")
        monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", None)
        assert stripe_gateway.enabled() is False


# -- refunds through Stripe ------------------------------------------------------------------


def refunds_at_stripe(client: stripe.StripeClient, intent_id: str) -> list[int]:
    listed = client.v1.refunds.list(params={"payment_intent": intent_id})
    return sorted(r.amount for r in listed.data)


def test_partial_then_full_refund_through_stripe(order_id, stripe_api):
    paid = stripe_gateway.pay_by_card(order_id, card_method(stripe_api, CARD_OK), attempt())

    partial = orders.refund(
        order_id, 1000, reason="damaged", send_to_provider=stripe_gateway.refund_through_stripe
    )

    assert partial.provider_refund_id.startswith("re_")
    assert status_of(order_id) == OrderStatus.PARTIALLY_REFUNDED
    assert refunds_at_stripe(stripe_api, paid.intent_id) == [1000]

    rest = orders.refund(
        order_id, TOTAL - 1000, send_to_provider=stripe_gateway.refund_through_stripe
    )

    assert rest.provider_refund_id.startswith("re_")
    assert rest.provider_refund_id != partial.provider_refund_id
    assert status_of(order_id) == OrderStatus.REFUNDED
    assert db.session.get(Order, order_id).amount_refunded == TOTAL
    assert refunds_at_stripe(stripe_api, paid.intent_id) == [1000, TOTAL - 1000]
    assert [p["amount"] for p in outbox("order_refunded")] == [1000, TOTAL - 1000]


def test_an_over_refund_is_refused_before_stripe(order_id, stripe_api):
    paid = stripe_gateway.pay_by_card(order_id, card_method(stripe_api, CARD_OK), attempt())
    orders.refund(order_id, 2000, send_to_provider=stripe_gateway.refund_through_stripe)

    with pytest.raises(orders.RefundTooLarge):
        orders.refund(
            order_id, TOTAL - 2000 + 1, send_to_provider=stripe_gateway.refund_through_stripe
        )

    assert [r.amount for r in db.session.execute(db.select(Refund)).scalars()] == [2000]
    assert status_of(order_id) == OrderStatus.PARTIALLY_REFUNDED
    assert db.session.get(Order, order_id).amount_refunded == 2000
    assert refunds_at_stripe(stripe_api, paid.intent_id) == [2000]  # localstripe would accept it


def test_a_refund_stripe_refuses_records_nothing(order_id):
    orders.mark_paid(order_id, provider="stripe", intent_id="pi_unknown_to_stripe", amount=TOTAL)

    with pytest.raises(stripe_gateway.PaymentUnavailable):
        orders.refund(order_id, 500, send_to_provider=stripe_gateway.refund_through_stripe)

    assert db.session.execute(db.select(Refund)).scalars().all() == []
    assert outbox("order_refunded") == []
    assert status_of(order_id) == OrderStatus.PAID
    # The order row was released: a refund recorded by hand goes through.
    assert orders.refund(order_id, 500).amount == 500


def test_a_webhook_for_a_lost_attempt_never_takes_a_declined_payment(order_id, stripe_api):
    declined = stripe_gateway.pay_by_card(
        order_id, card_method(stripe_api, CARD_DECLINED), attempt()
    )

    orders.mark_paid(order_id, provider="stripe", intent_id="pi_lost_attempt", amount=TOTAL)

    assert [(p.intent_id, p.status) for p in payments_of(order_id)] == [
        (declined.intent_id, PaymentStatus.FAILED),
        ("pi_lost_attempt", PaymentStatus.SUCCEEDED),
    ]


# -- the endpoints -------------------------------------------------------------------------------

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@pytest.fixture
def shopper(app, client, order_id):
    """A buyer on the payment page of their order: its token, paths and CSRF header."""
    with app.app_context():
        token = orders.access_token(db.session.get(Order, order_id))

    class Shopper:
        def __init__(self) -> None:
            self.token = token
            self.order_id = order_id
            self._csrf = ""

        def page(self, lang: str = "fr"):
            word = "commande" if lang == "fr" else "checkout"
            pay = "payer" if lang == "fr" else "pay"
            return client.get(f"/{lang}/{word}/{self.token}/{pay}")

        def headers(self, lang: str = "fr") -> dict[str, str]:
            """The page's CSRF token (one per session: read once, while the order is payable)."""
            if not self._csrf:
                html = self.page(lang).get_data(as_text=True)
                self._csrf = CSRF_META.search(html).group(1)
            return {"X-CSRFToken": self._csrf}

        def pay(self, payment_method, key: str, lang: str = "fr", token: str | None = None):
            path = "commande/{}/carte" if lang == "fr" else "checkout/{}/card"
            return client.post(
                f"/{lang}/" + path.format(token or self.token),
                json={"payment_method": payment_method, "attempt": key},
                headers=self.headers(lang),
            )

        def finish(self, intent_id: str, lang: str = "fr"):
            path = "commande/{}/carte/terminer" if lang == "fr" else "checkout/{}/card/finish"
            return client.post(
                f"/{lang}/" + path.format(self.token),
                json={"intent_id": intent_id},
                headers=self.headers(lang),
            )

    return Shopper()


def confirmation(app, token: str) -> str:
    if "checkout.confirmation" in app.view_functions:
        return f"/fr/commande/confirmation/{token}"
    return "/"


def test_the_payment_page_hosts_the_card_form_without_inline_code(app, shopper, test_env):
    response = shopper.page()
    html = response.get_data(as_text=True)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert '<meta name="robots" content="noindex">' in html
    form = re.search(r'<form id="card-payment"[^>]*>', html, re.S).group(0)
    assert 'data-key="pk_test_comptoir"' in form
    assert f'data-pay-url="/fr/commande/{shopper.token}/carte"' in form
    assert f'data-finish-url="/fr/commande/{shopper.token}/carte/terminer"' in form
    assert re.search(r'data-attempt="[0-9a-f]{32}"', form)
    assert 'id="card-element"' in html
    assert 'role="alert"' in html
    assert f'<script src="{test_env["STRIPE_JS_URL"]}"></script>' in html
    stripe_script = r'<script src="/static/js/stripe-checkout\.[0-9a-f]{10}\.js" defer></script>'
    assert re.search(stripe_script, html)
    assert "<noscript>" in html
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/ld\+json)[^>]*>", html)
    assert " style=" not in html
    policy = response.headers["Content-Security-Policy"]
    assert f"script-src 'self' {test_env['STRIPE_API_BASE']}" in policy


def test_each_view_of_the_payment_page_gets_a_new_attempt_key(shopper):
    keys = {
        re.search(r'data-attempt="([0-9a-f]+)"', shopper.page().get_data(as_text=True)).group(1)
        for _ in range(2)
    }
    assert len(keys) == 2


def test_the_payment_page_of_a_paid_order_leads_to_its_confirmation(app, shopper):
    with app.app_context():
        orders.mark_paid(shopper.order_id, provider="stripe")

    response = shopper.page()

    assert response.status_code == 303
    assert response.headers["Location"] == confirmation(app, shopper.token)


def test_the_payment_page_without_stripe_keys_offers_no_card_form(shopper, app, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", None)

    html = shopper.page().get_data(as_text=True)

    assert 'id="card-payment"' not in html
    assert "stripe-checkout.js" not in html
    assert shopper.pay("pm_card_visa", attempt()).status_code == 404


def test_a_bad_order_token_is_not_found(shopper, client):
    headers = shopper.headers()
    assert client.get("/fr/commande/not-a-token/payer").status_code == 404
    response = client.post(
        "/fr/commande/not-a-token/carte",
        json={"payment_method": "pm_card_visa", "attempt": attempt()},
        headers=headers,
    )
    assert response.status_code == 404
    assert response.get_json()["status"] == "failed"
    finish = client.post(
        "/fr/commande/not-a-token/carte/terminer", json={"intent_id": "pi_x"}, headers=headers
    )
    assert finish.status_code == 404


def test_the_endpoints_need_the_csrf_header(shopper, client, app, stripe_api):
    response = client.post(
        f"/fr/commande/{shopper.token}/carte",
        json={"payment_method": card_method(stripe_api, CARD_OK), "attempt": attempt()},
    )
    assert response.status_code == 400
    with app.app_context():
        assert payments_of(shopper.order_id) == []


def test_paying_through_the_endpoint(app, shopper, stripe_api):
    response = shopper.pay(card_method(stripe_api, CARD_OK), attempt())

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.get_json() == {
        "status": "succeeded",
        "redirect": confirmation(app, shopper.token),
    }
    with app.app_context():
        assert status_of(shopper.order_id) == OrderStatus.PAID


def test_a_double_submit_through_the_endpoint_charges_once(app, shopper, stripe_api):
    key = attempt()
    first = shopper.pay(card_method(stripe_api, CARD_OK), key)
    second = shopper.pay(card_method(stripe_api, CARD_OK), key)

    assert first.get_json() == second.get_json()
    assert second.get_json()["status"] == "succeeded"
    with app.app_context():
        assert len(payments_of(shopper.order_id)) == 1
        assert len(intents_for(stripe_api, shopper.order_id)) == 1


def test_a_declined_card_through_the_endpoint_gives_a_message_and_a_new_attempt(
    app, shopper, stripe_api
):
    key = attempt()
    response = shopper.pay(card_method(stripe_api, CARD_DECLINED), key)

    body = response.get_json()
    assert response.status_code == 200
    assert (body["status"], body["message"]) == ("failed", DECLINED_FR)
    assert re.fullmatch(r"[0-9a-f]{32}", body["attempt"]) and body["attempt"] != key

    retried = shopper.pay(card_method(stripe_api, CARD_OK), body["attempt"])

    assert retried.get_json()["status"] == "succeeded"


def test_the_english_endpoint_answers_in_english(shopper, stripe_api):
    body = shopper.pay(card_method(stripe_api, CARD_DECLINED), attempt(), lang="en").get_json()
    assert body["message"] == DECLINED_EN


def test_three_d_secure_through_the_endpoints(app, shopper, stripe_api, test_env):
    body = shopper.pay(card_method(stripe_api, CARD_3DS), attempt()).get_json()

    assert body["status"] == "requires_action"
    assert body["client_secret"].startswith(body["intent_id"] + "_secret_")

    authenticate(test_env, body["client_secret"])
    finished = shopper.finish(body["intent_id"])

    assert finished.get_json() == {
        "status": "succeeded",
        "redirect": confirmation(app, shopper.token),
    }
    with app.app_context():
        assert status_of(shopper.order_id) == OrderStatus.PAID


def test_finish_before_authentication_is_a_failure_with_a_new_attempt(shopper, stripe_api):
    body = shopper.pay(card_method(stripe_api, CARD_3DS), attempt()).get_json()

    finished = shopper.finish(body["intent_id"]).get_json()

    assert finished["status"] == "failed"
    assert finished["message"] == (
        "Le paiement n’a pas été confirmé auprès de votre banque. Veuillez réessayer."
    )
    assert finished["attempt"]


def test_finish_with_an_unknown_intent_is_not_found(shopper):
    response = shopper.finish("pi_not_ours")
    assert response.status_code == 404


def test_an_order_not_awaiting_payment_answers_409(app, shopper, stripe_api):
    shopper.headers()  # the page, while the order is still payable
    with app.app_context():
        orders.cancel(shopper.order_id)

    response = shopper.pay(card_method(stripe_api, CARD_OK), attempt())

    assert response.status_code == 409
    assert response.get_json() == {
        "status": "failed",
        "message": NOT_AWAITING_FR,
        "redirect": confirmation(app, shopper.token),
    }


@pytest.mark.parametrize(
    "body",
    [
        {"attempt": "0123456789abcdef"},
        {"payment_method": "pm_card_visa"},
        {"payment_method": "pm_card_visa", "attempt": "short"},
        {"payment_method": "pm_card_visa", "attempt": "no spaces allowed here"},
        {"payment_method": "pm_card_visa", "attempt": "0123456789abcdef\n"},
        {"payment_method": 12, "attempt": "0123456789abcdef"},
        {"payment_method": ["pm_card_visa"], "attempt": "0123456789abcdef"},
    ],
)
def test_a_malformed_request_is_refused(app, shopper, client, body):
    response = client.post(
        f"/fr/commande/{shopper.token}/carte", json=body, headers=shopper.headers()
    )
    assert response.status_code == 400
    assert response.get_json()["status"] == "failed"
    assert "redirect" not in response.get_json()
    with app.app_context():
        assert payments_of(shopper.order_id) == []
        assert status_of(shopper.order_id) == OrderStatus.PENDING_PAYMENT


CARD_UNUSABLE = {
    "fr": (
        "Les informations de votre carte n’ont pas pu être utilisées. "
        "Veuillez les saisir à nouveau."
    ),
    "en": "Your card details could not be used. Please enter them again.",
}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_token_posted_instead_of_a_payment_method_is_refused_and_the_shopper_stays(
    app, shopper, stripe_api, lang
):
    """A page still running the old script (or anyone) posting a tok_…: a translated 400,
    a new attempt key, no redirect, nothing recorded or charged; a real one then pays."""
    token = a_card_token(stripe_api)
    charges = charges_at_stripe(stripe_api)
    key = attempt()

    response = shopper.pay(token, key, lang=lang)

    body = response.get_json()
    assert response.status_code == 400
    assert response.headers["Cache-Control"] == "private, no-store"
    assert set(body) == {"status", "message", "attempt"}
    assert (body["status"], body["message"]) == ("failed", CARD_UNUSABLE[lang])
    assert re.fullmatch(r"[0-9a-f]{32}", body["attempt"]) and body["attempt"] != key
    with app.app_context():
        assert payments_of(shopper.order_id) == []
        assert status_of(shopper.order_id) == OrderStatus.PENDING_PAYMENT
    assert intents_for(stripe_api, shopper.order_id) == []
    assert charges_at_stripe(stripe_api) == charges

    retried = shopper.pay(card_method(stripe_api, CARD_OK), body["attempt"], lang=lang)

    assert retried.get_json()["status"] == "succeeded"


@pytest.mark.parametrize(
    ("lang", "note"),
    [
        (
            "fr",
            "Le paiement par carte nécessite JavaScript. Veuillez l’activer, ou passer à "
            "nouveau votre commande en choisissant le virement bancaire.",
        ),
        (
            "en",
            "Card payment needs JavaScript. Please enable it, or place your order again "
            "choosing bank transfer.",
        ),
    ],
)
def test_the_page_says_card_payment_needs_javascript_in_both_languages(shopper, lang, note):
    html = shopper.page(lang).get_data(as_text=True)

    noscript = re.search(r"<noscript>(.*?)</noscript>", html, re.S).group(1)
    assert note in noscript
    assert re.search(r'<form id="card-payment"[^>]*\shidden[\s>]', html)


def test_a_form_post_works_like_json(app, shopper, client, stripe_api):
    response = client.post(
        f"/fr/commande/{shopper.token}/carte",
        data={"payment_method": card_method(stripe_api, CARD_OK), "attempt": attempt()},
        headers=shopper.headers(),
    )
    assert response.get_json()["status"] == "succeeded"
