"""Provider events (webhooks): each event id handled once, through a table of handlers.

An event is recorded in ``webhook_events`` only after its handler succeeded, so an event
whose processing failed is processed again when the provider retries it. Handlers are
idempotent (``mark_paid`` locks the order and pays it once), so two deliveries of one
event racing each other are harmless: one records it, the other finds it recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import stripe
from sqlalchemy.exc import IntegrityError

from shop.extensions import db
from shop.orders import services as orders
from shop.orders.models import Order, Payment
from shop.payments.models import WebhookEvent
from shop.payments.stripe_gateway import PROVIDER

log = logging.getLogger("shop.payments.webhooks")

HANDLED, IGNORED, DUPLICATE = "handled", "ignored", "duplicate"
Handler = Callable[[Mapping[str, Any]], None]


def _order_of(intent: Mapping[str, Any]) -> int | None:
    """Our Payment row knows the intent; the intent's metadata names the order otherwise
    (e.g. our request died between Stripe's answer and our commit)."""
    known = db.session.execute(
        db.select(Payment.order_id).where(Payment.intent_id == intent["id"])
    ).scalar_one_or_none()
    metadata = intent.get("metadata") or {}
    try:
        named = int(metadata.get("order_id") or 0) or None
    except ValueError:
        named = None
    if known is not None:
        if named is not None and known != named:
            log.error(
                "intent metadata names another order",
                extra={"intent": intent["id"], "order": known, "metadata_order": named},
            )
        return known
    if named is None or db.session.get(Order, named) is None:
        return None  # not ours (another shop on the account) or deleted: nothing to do
    return named


def _intent_succeeded(intent: Mapping[str, Any]) -> None:
    order_id = _order_of(intent)
    if order_id is None:
        log.warning("succeeded intent without an order", extra={"intent": intent["id"]})
        return
    orders.mark_paid(order_id, provider=PROVIDER, intent_id=intent["id"], amount=intent["amount"])


def _intent_failed(intent: Mapping[str, Any]) -> None:
    order_id = _order_of(intent)
    if order_id is None:
        log.warning("failed intent without an order", extra={"intent": intent["id"]})
        return
    error = intent.get("last_payment_error") or {}
    code = error.get("decline_code") or error.get("code") or "declined"
    orders.payment_failed(
        order_id,
        intent_id=intent["id"],
        message=f"{code}: {error.get('message') or 'payment failed'}",
    )


STRIPE_HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": _intent_succeeded,
    "payment_intent.payment_failed": _intent_failed,
}


def seen(provider: str, event_id: str) -> bool:
    return (
        db.session.execute(
            db.select(WebhookEvent.id).where(
                WebhookEvent.provider == provider, WebhookEvent.event_id == event_id
            )
        ).scalar_one_or_none()
        is not None
    )


def _record(provider: str, event_id: str, event_type: str) -> bool:
    """False when another delivery of the same event recorded it first."""
    try:
        with db.session.begin_nested():
            db.session.add(WebhookEvent(provider=provider, event_id=event_id, type=event_type))
    except IntegrityError:
        db.session.commit()
        return False
    db.session.commit()
    return True


def process_stripe_event(event: stripe.Event) -> str:
    """Handle a verified Stripe event once: "handled", "ignored" (no handler for its type)
    or "duplicate". A handler's exception propagates and nothing is recorded."""
    event_id, event_type = event["id"], event["type"]
    if seen(PROVIDER, event_id):
        db.session.rollback()
        return DUPLICATE
    handler = STRIPE_HANDLERS.get(event_type)
    if handler is None:
        log.info("stripe event ignored", extra={"event": event_id, "type": event_type})
        result = IGNORED
    else:
        handler(event["data"]["object"].to_dict())
        result = HANDLED
    return result if _record(PROVIDER, event_id, event_type) else DUPLICATE
