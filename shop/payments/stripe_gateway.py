"""Card payments through Stripe PaymentIntents, confirmed on our server.

The page turns the card into a PaymentMethod with Stripe.js (``createPaymentMethod``: the
card never reaches us) and posts its ``pm_…`` id; we create and confirm the intent with it,
one idempotency key per checkout attempt. When the bank wants 3-D Secure the page runs
``confirmCardPayment`` on the intent's client secret and we read the intent back in
``finish``. The same requests work against Stripe and against localstripe (tests).

Every attempt on an order runs with the order row locked, so a double-click, a second tab,
the return page and the webhook are serialized: the second one sees what the first did.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import stripe
from flask import current_app
from flask_babel import lazy_gettext as _l

from shop.extensions import db
from shop.inventory import services as inventory
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus, Payment, PaymentStatus
from shop.platform.services import configured

log = logging.getLogger("shop.payments")

PROVIDER = "stripe"
SUCCEEDED, REQUIRES_ACTION, FAILED, PROCESSING = (
    "succeeded",
    "requires_action",
    "failed",
    "processing",
)
# What Stripe.js's createPaymentMethod gives (test-mode shortcuts such as pm_card_visa too).
PAYMENT_METHOD_ID = re.compile(r"pm_[A-Za-z0-9_]{1,252}")
NETWORK_RETRIES = 2
TIMEOUT_SECONDS = 30


class PaymentError(Exception):
    message = _l("The payment could not be completed. Please try again.")


class PaymentUnavailable(PaymentError):
    """Stripe cannot be reached or refused the request itself (not the card)."""

    message = _l(
        "Card payment is unavailable at the moment. Please try again in a few minutes "
        "or pay by bank transfer."
    )


class NotAwaitingPayment(PaymentError):
    message = _l("This order is no longer awaiting payment.")


class UnknownPayment(PaymentError):
    message = _l("This payment does not belong to this order.")


class InvalidPaymentMethod(PaymentError):
    """What the page sent is not a PaymentMethod Stripe knows (a token, a card id, a typo):
    refused before anything is recorded or charged."""

    message = _l("Your card details could not be used. Please enter them again.")


DECLINED = _l("Your card was declined. Please use another card or pay by bank transfer.")
AUTHENTICATION_FAILED = _l(
    "Your bank did not confirm the payment (3-D Secure). Please try again or use another card."
)
_BY_CODE: dict[str, Any] = {
    "insufficient_funds": _l("Your card has insufficient funds. Please use another card."),
    "expired_card": _l("Your card has expired. Please use another card."),
    "incorrect_cvc": _l("The security code of your card is incorrect. Please check it."),
    "invalid_cvc": _l("The security code of your card is incorrect. Please check it."),
    "incorrect_number": _l("The card number is incorrect. Please check it."),
    "invalid_number": _l("The card number is incorrect. Please check it."),
    "invalid_expiry_month": _l("The expiry date of your card is incorrect. Please check it."),
    "invalid_expiry_year": _l("The expiry date of your card is incorrect. Please check it."),
    "processing_error": _l("An error occurred while processing your card. Please try again."),
    "authentication_required": AUTHENTICATION_FAILED,
    "payment_intent_authentication_failure": AUTHENTICATION_FAILED,
}


def decline_message(*codes: str | None) -> str:
    """The buyer's message for a decline: the first code we know (decline code, then error
    code), else a plain "declined". Fraud-related codes deliberately get the plain one."""
    for code in codes:
        if code and code in _BY_CODE:
            return str(_BY_CODE[code])
    return str(DECLINED)


@dataclass(frozen=True)
class Outcome:
    """What the page does next: go to the confirmation, run 3-D Secure, or show ``message``.

    ``processing`` (rare for cards) means Stripe has not decided yet: the webhook will.
    """

    status: str
    intent_id: str | None = None
    client_secret: str | None = None
    message: str | None = None


# -- the client --------------------------------------------------------------------------------


# Keys saved in the back office (``platform_config``; the two secrets encrypted), each
# falling back to the environment variable of the same name when it is not saved.
SECRET_KEY, PUBLISHABLE_KEY, WEBHOOK_SECRET = (
    "stripe_secret_key",
    "stripe_publishable_key",
    "stripe_webhook_secret",
)


def secret_key() -> str | None:
    return configured(SECRET_KEY, "STRIPE_SECRET_KEY")


def publishable_key() -> str | None:
    return configured(PUBLISHABLE_KEY, "STRIPE_PUBLISHABLE_KEY")


def webhook_secret() -> str | None:
    return configured(WEBHOOK_SECRET, "STRIPE_WEBHOOK_SECRET")


def enabled() -> bool:
    return bool(secret_key() and publishable_key())


def client() -> stripe.StripeClient:
    """One client per app and settings (it keeps a connection pool per thread)."""
    secret, base = secret_key(), current_app.config.get("STRIPE_API_BASE")
    if not secret:
        raise PaymentUnavailable("STRIPE_SECRET_KEY is not set")
    cached = current_app.extensions.get("stripe_client")
    if cached is not None and cached[0] == (secret, base):
        return cached[1]
    made = stripe.StripeClient(
        secret,
        base_addresses={"api": base} if base else None,
        max_network_retries=NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
    )
    current_app.extensions["stripe_client"] = ((secret, base), made)
    return made


def charge_id(intent: Mapping[str, Any]) -> str | None:
    """Stripe gives ``latest_charge`` as an id; localstripe embeds the charge object."""
    charge = intent.get("latest_charge")
    if charge is None or isinstance(charge, str):
        return charge
    return charge.get("id")


# -- paying ----------------------------------------------------------------------------------


def pay_by_card(order_id: int, payment_method_id: str, attempt_key: str) -> Outcome:
    """Create and confirm the order's PaymentIntent with the PaymentMethod the page made.

    ``attempt_key`` identifies one press of "Pay": the same key again (a double-click, a
    retried request) answers what the first request got and never charges twice; a new
    attempt after a decline brings a new key. Anything but a PaymentMethod id, or one Stripe
    does not know, raises ``InvalidPaymentMethod`` with nothing recorded.
    """
    if not PAYMENT_METHOD_ID.fullmatch(payment_method_id):
        raise InvalidPaymentMethod(payment_method_id[:40])
    order = orders._locked(order_id)
    earlier = db.session.execute(
        db.select(Payment).where(Payment.idempotency_key == attempt_key)
    ).scalar_one_or_none()
    if earlier is not None:
        db.session.rollback()
        if earlier.order_id != order_id:
            raise UnknownPayment(attempt_key)
        return _replay(earlier)
    if order.status != OrderStatus.PENDING_PAYMENT:
        db.session.rollback()
        raise NotAwaitingPayment(order.status)
    try:
        settled = _settle_earlier_attempts(order)
    except PaymentUnavailable:
        db.session.rollback()
        raise
    if settled is not None:
        return settled
    payment = Payment(
        order_id=order.id,
        provider=PROVIDER,
        status=PaymentStatus.PENDING,
        amount=order.total,
        currency=order.currency,
        idempotency_key=attempt_key,
    )
    db.session.add(payment)
    db.session.flush()
    try:
        intent = (
            client()
            .v1.payment_intents.create(
                params={
                    "amount": order.total,
                    "currency": order.currency.lower(),
                    # Cards only, confirmed here: no redirect-based methods, no return_url.
                    "payment_method_types": ["card"],
                    "payment_method": payment_method_id,
                    "confirm": True,
                    "metadata": {"order_id": str(order.id), "order_number": order.number},
                },
                options={"idempotency_key": attempt_key},
            )
            .to_dict()
        )
    except stripe.CardError as error:
        details = (error.json_body or {}).get("error") or {}
        declined_intent = details.get("payment_intent") or {}
        return _declined(
            order,
            payment,
            declined_intent.get("id"),
            code=error.code,
            decline_code=details.get("decline_code"),
            text=details.get("message") or str(error),
        )
    except stripe.InvalidRequestError as error:
        db.session.rollback()
        # Stripe answers 400 resource_missing on param payment_method; localstripe a bare 404.
        if (
            error.code == "resource_missing"
            or error.param == "payment_method"
            or error.http_status == 404
        ):
            log.info("unusable payment method", extra={"order": order.number})
            raise InvalidPaymentMethod(payment_method_id) from error
        log.error("stripe refused the payment request", extra={"error": str(error)})
        raise PaymentUnavailable(str(error)) from error
    except stripe.StripeError as error:
        db.session.rollback()
        log.warning("stripe unavailable", extra={"order": order.number, "error": str(error)})
        raise PaymentUnavailable(str(error)) from error
    payment.intent_id = intent["id"]
    return _apply(order, payment, intent)


def finish(order_id: int, intent_id: str) -> Outcome:
    """After 3-D Secure in the page: read the intent back and settle the order."""
    payment = db.session.execute(
        db.select(Payment).where(Payment.intent_id == intent_id, Payment.order_id == order_id)
    ).scalar_one_or_none()
    if payment is None:
        raise UnknownPayment(intent_id)
    intent = _retrieve(intent_id)
    order = orders._locked(order_id)
    payment = db.session.get(Payment, payment.id, populate_existing=True)
    if payment is None:
        db.session.rollback()
        raise UnknownPayment(intent_id)
    if order.status != OrderStatus.PENDING_PAYMENT:
        db.session.rollback()
        if payment.status == PaymentStatus.SUCCEEDED:
            return Outcome(SUCCEEDED, intent_id)  # the webhook got here first
        raise NotAwaitingPayment(order.status)
    return _apply(order, payment, intent)


def _apply(order: Order, payment: Payment, intent: Mapping[str, Any]) -> Outcome:
    """Record what Stripe says about the intent (the order row is locked); commits."""
    status, intent_id = intent["status"], intent["id"]
    if status == "succeeded":
        if not orders.mark_paid(
            order.id, provider=PROVIDER, intent_id=intent_id, amount=intent["amount"]
        ):
            log.error("paid intent not applied", extra={"order": order.number})
            return Outcome(FAILED, intent_id, message=str(PaymentError.message))
        log.info(
            "card payment succeeded",
            extra={"order": order.number, "intent": intent_id, "charge": charge_id(intent)},
        )
        return Outcome(SUCCEEDED, intent_id)
    if status == "requires_action":
        payment.status = PaymentStatus.REQUIRES_ACTION
        inventory.extend_holds(order_id=order.id)
        db.session.commit()
        return Outcome(REQUIRES_ACTION, intent_id, intent["client_secret"])
    if status == "processing":
        payment.status = PaymentStatus.PENDING
        db.session.commit()
        return Outcome(PROCESSING, intent_id)
    error = intent.get("last_payment_error") or {}
    return _declined(
        order,
        payment,
        intent_id,
        code=error.get("code") or status,
        decline_code=error.get("decline_code"),
        text=error.get("message") or f"intent {status}",
    )


def _declined(
    order: Order,
    payment: Payment,
    intent_id: str | None,
    *,
    code: str | None,
    decline_code: str | None,
    text: str,
) -> Outcome:
    """The card was refused: the order stays payable and keeps its holds."""
    staff_note = f"{decline_code or code or 'declined'}: {text}"
    payment.intent_id = payment.intent_id or intent_id
    payment.status = PaymentStatus.FAILED
    payment.last_error = staff_note[:2000]
    orders.payment_failed(order.id, intent_id=payment.intent_id, message=staff_note)
    log.info("card declined", extra={"order": order.number, "code": decline_code or code})
    return Outcome(FAILED, payment.intent_id, message=decline_message(decline_code, code))


def _replay(payment: Payment) -> Outcome:
    """The answer an attempt already got (its key came again)."""
    if payment.status == PaymentStatus.SUCCEEDED:
        return Outcome(SUCCEEDED, payment.intent_id)
    if payment.status == PaymentStatus.REQUIRES_ACTION and payment.intent_id:
        intent = _retrieve(payment.intent_id)
        if intent["status"] == "requires_action":
            return Outcome(REQUIRES_ACTION, intent["id"], intent["client_secret"])
        return finish(payment.order_id, intent["id"])
    if payment.status == PaymentStatus.FAILED:
        code = (payment.last_error or "").split(":", 1)[0]
        return Outcome(FAILED, payment.intent_id, message=decline_message(code))
    if payment.status == PaymentStatus.PENDING and payment.intent_id:
        return Outcome(PROCESSING, payment.intent_id)
    return Outcome(FAILED, payment.intent_id, message=str(PaymentError.message))


def _settle_earlier_attempts(order: Order) -> Outcome | None:
    """An attempt left at 3-D Secure is cancelled before a new one starts, so it can never be
    charged as well; if it was completed meanwhile (another tab), the order is paid by it."""
    waiting = db.session.execute(
        db.select(Payment).where(
            Payment.order_id == order.id,
            Payment.provider == PROVIDER,
            Payment.intent_id.is_not(None),
            Payment.status.in_((PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION)),
        )
    ).scalars()
    for payment in waiting:
        intent_id = str(payment.intent_id)
        if cancel_intent(intent_id) != "canceled":
            intent = _retrieve(intent_id)
            if intent["status"] in ("succeeded", "processing"):
                return _apply(order, payment, intent)
        payment.status = PaymentStatus.CANCELLED
    return None


def _retrieve(intent_id: str) -> dict[str, Any]:
    try:
        return client().v1.payment_intents.retrieve(intent_id).to_dict()
    except stripe.StripeError as error:
        db.session.rollback()
        log.warning("stripe unavailable", extra={"intent": intent_id, "error": str(error)})
        raise PaymentUnavailable(str(error)) from error


def cancel_intent(intent_id: str) -> str | None:
    """Cancel an unfinished intent and return its status ("canceled"); one that is already
    final (succeeded, canceled) is left as it is and None is returned."""
    try:
        return client().v1.payment_intents.cancel(intent_id).status
    except stripe.InvalidRequestError as error:
        log.info("intent not cancelled", extra={"intent": intent_id, "error": str(error)})
        return None
    except stripe.StripeError as error:
        raise PaymentUnavailable(str(error)) from error


# -- refunds ---------------------------------------------------------------------------------


def refund_through_stripe(payment: Payment, amount: int, idempotency_key: str) -> str:
    """``send_to_provider`` for ``orders.services.refund``: give ``amount`` back on the
    payment's intent and return Stripe's refund id. The limit (never more than was paid) is
    checked by ``refund`` first: localstripe, unlike Stripe, accepts over-refunds."""
    if not payment.intent_id:
        raise PaymentError(f"payment {payment.id} has no Stripe intent")
    try:
        refund = client().v1.refunds.create(
            params={"payment_intent": payment.intent_id, "amount": amount},
            options={"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as error:
        log.error("stripe refund failed", extra={"payment": payment.id, "error": str(error)})
        raise PaymentUnavailable(str(error)) from error
    return refund.id
