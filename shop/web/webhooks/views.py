"""Provider webhooks: signed instead of CSRF-protected (the blueprint is CSRF-exempt)."""

from __future__ import annotations

import logging

import stripe
from flask import request
from werkzeug.wrappers import Response

from shop.extensions import db
from shop.payments import services as payments
from shop.payments import stripe_gateway
from shop.web.webhooks import bp

log = logging.getLogger("shop.payments.webhooks")


def _plain(status: int, text: str = "") -> Response:
    return Response(text, status=status, mimetype="text/plain")


@bp.post("/webhooks/stripe")
def stripe_events() -> Response:
    """Verify the signature over the raw body (400 and nothing recorded otherwise), then
    handle the event once. A failure answers 500 without recording the event, so Stripe
    delivers it again later."""
    secret = stripe_gateway.webhook_secret()
    if not secret:
        log.error("stripe webhook received but no webhook secret is set")
        return _plain(400, "not configured")
    payload = request.get_data(cache=False)
    try:
        event = stripe.Webhook.construct_event(
            payload, request.headers.get("Stripe-Signature", ""), secret
        )
    except (ValueError, stripe.SignatureVerificationError) as error:
        log.warning("stripe webhook rejected", extra={"reason": str(error)})
        return _plain(400, "invalid signature")
    try:
        result = payments.process_stripe_event(event)
    except Exception:  # whatever failed, Stripe must retry: the event stays unrecorded
        db.session.rollback()
        log.exception("stripe webhook failed", extra={"event": event.id, "type": event.type})
        return _plain(500, "failed")
    log.info("stripe webhook", extra={"event": event.id, "type": event.type, "result": result})
    return _plain(200, result)
