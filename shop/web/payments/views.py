"""Card payment: the page hosting the card form, and the two JSON endpoints its script calls.

Card payment needs JavaScript by nature (Stripe.js collects the card and makes the
PaymentMethod, we only see its id), so the endpoints answer JSON for the page's script:
``{status, client_secret?, intent_id?, redirect?, message?, attempt?}``. Shoppers without
JavaScript are told to pay by transfer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from flask import abort, current_app, jsonify, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from shop.extensions import limiter
from shop.i18n import localized_route
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus
from shop.payments import stripe_gateway
from shop.payments.stripe_gateway import (
    FAILED,
    REQUIRES_ACTION,
    InvalidPaymentMethod,
    NotAwaitingPayment,
    Outcome,
    PaymentError,
    PaymentUnavailable,
    UnknownPayment,
)
from shop.web.htmx import render
from shop.web.payments import bp
from shop.web.security import embeds_stripe_js

ATTEMPT_KEY = re.compile(r"^[A-Za-z0-9_-]{8,80}$")
CARD_RATE_LIMIT = "10 per minute;40 per hour"
NOT_AUTHENTICATED = _l("The payment was not confirmed with your bank. Please try again.")


@bp.app_template_global("payment_attempt_key")
def new_attempt_key() -> str:
    """One key per press of "Pay" (a retry after a decline gets a new one from the server)."""
    return uuid.uuid4().hex


def _card_limit() -> str:
    return current_app.config.get("CARD_PAYMENT_RATE_LIMIT", CARD_RATE_LIMIT)


def confirmation_url(token: str) -> str:
    if "checkout.confirmation" not in current_app.view_functions:
        return "/"  # the checkout blueprint is not registered (yet)
    return url_for("checkout.confirmation", token=token)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _json(http_status: int, **body: Any) -> Response:
    response = jsonify(body)
    response.status_code = http_status
    return _no_store(response)


def _refusal(status: int, error: PaymentError, token: str | None = None) -> Response:
    body: dict[str, Any] = {"status": FAILED, "message": str(error.message)}
    if token is not None:
        body["redirect"] = confirmation_url(token)
    else:
        body["attempt"] = new_attempt_key()
    return _json(status, **body)


def _payable(token: str) -> Order | None:
    order = orders.order_for_token(token)
    return order if order is not None and stripe_gateway.enabled() else None


def _params() -> Mapping[str, Any]:
    return (request.get_json(silent=True) or {}) if request.is_json else request.form


def _answer(outcome: Outcome, token: str) -> Response:
    if outcome.status == REQUIRES_ACTION:
        return _json(
            200,
            status=outcome.status,
            client_secret=outcome.client_secret,
            intent_id=outcome.intent_id,
        )
    if outcome.status == FAILED:
        return _json(200, status=FAILED, message=outcome.message, attempt=new_attempt_key())
    return _json(200, status=outcome.status, redirect=confirmation_url(token))


@localized_route(bp, {"fr": "/commande/<token>/payer", "en": "/checkout/<token>/pay"})
def pay(token: str) -> Response:
    order = orders.order_for_token(token)
    if order is None:
        abort(404)
    if order.status != OrderStatus.PENDING_PAYMENT:
        return redirect(confirmation_url(token), 303)
    card_enabled = stripe_gateway.enabled()
    if card_enabled:
        embeds_stripe_js()
    response = render(
        "payments/pay.html",
        order=order,
        order_token=token,
        card_enabled=card_enabled,
        stripe_publishable_key=stripe_gateway.publishable_key(),
    )
    return _no_store(response)


@localized_route(
    bp, {"fr": "/commande/<token>/carte", "en": "/checkout/<token>/card"}, methods=["POST"]
)
@limiter.limit(_card_limit)
def card(token: str) -> Response:
    order = _payable(token)
    if order is None:
        return _refusal(404, UnknownPayment())
    params = _params()
    payment_method, attempt = params.get("payment_method"), params.get("attempt")
    if not isinstance(attempt, str) or not ATTEMPT_KEY.fullmatch(attempt):
        return _refusal(400, PaymentError())
    if not isinstance(payment_method, str):
        return _refusal(400, InvalidPaymentMethod())
    try:
        outcome = stripe_gateway.pay_by_card(order.id, payment_method, attempt)
    except InvalidPaymentMethod as error:
        return _refusal(400, error)
    except NotAwaitingPayment as error:
        return _refusal(409, error, token)
    except UnknownPayment as error:
        return _refusal(404, error)
    except PaymentUnavailable as error:
        return _refusal(503, error)
    return _answer(outcome, token)


@localized_route(
    bp,
    {"fr": "/commande/<token>/carte/terminer", "en": "/checkout/<token>/card/finish"},
    methods=["POST"],
)
@limiter.limit(_card_limit)
def finish(token: str) -> Response:
    order = _payable(token)
    if order is None:
        return _refusal(404, UnknownPayment())
    intent_id = _params().get("intent_id")
    if not isinstance(intent_id, str) or not 0 < len(intent_id) <= 255:
        return _refusal(400, PaymentError())
    try:
        outcome = stripe_gateway.finish(order.id, intent_id)
    except NotAwaitingPayment as error:
        return _refusal(409, error, token)
    except UnknownPayment as error:
        return _refusal(404, error)
    except PaymentUnavailable as error:
        return _refusal(503, error)
    if outcome.status == REQUIRES_ACTION:  # the page's 3-D Secure step did not complete
        outcome = Outcome(FAILED, outcome.intent_id, message=str(NOT_AUTHENTICATED))
    return _answer(outcome, token)
