"""What each outbox event does: ``{event type: handler}``, used by the dispatcher.

A handler takes the claimed event and runs inside the dispatcher's transaction (it must not
commit). It is idempotent: emails are queued under a Message-ID derived from the event id
(``<order_paid.123@shop>``), so running an event twice queues one email.

A paid order's invoice and a refund's credit note are issued by their event's handler, in
that same transaction, before the mail is queued (see ``_issuing``).

Account mails name the user only: the handler reads the address and language when it runs,
and makes the password reset token itself (see ``send_password_reset``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

from flask import current_app

from shop.accounts.models import User
from shop.clock import utcnow
from shop.emails.services import message_id_for, queue_email
from shop.extensions import db
from shop.invoices import services as invoices
from shop.invoices.services import InvoiceError
from shop.orders.models import Order, Shipment
from shop.outbox.models import OutboxEvent

log = logging.getLogger("shop.outbox")

Handler = Callable[[OutboxEvent], None]


def _order(event: OutboxEvent) -> Order | None:
    """The event's order, share-locked until the mail is queued: an anonymization (which
    locks the order to rewrite its address, then scrubs the queued mails) either waits for
    this mail and scrubs it, or has finished and this mail is not written."""
    order = db.session.get(Order, event.payload["order_id"], with_for_update={"read": True})
    return None if order is None or _undeliverable(order.email) else order


def _undeliverable(address: str) -> bool:
    """``.invalid`` is reserved never to resolve (RFC 2606): anonymized records use it."""
    return address.rsplit("@", 1)[-1].lower().endswith(".invalid")


def _order_context(order: Order) -> dict[str, Any]:
    from shop.orders.services import access_token
    from shop.platform.bank import bank_details
    from shop.urls import public_url

    return {
        "order": order,
        "order_url": public_url(
            "checkout.confirmation", lang=order.locale, token=access_token(order)
        ),
        "bank": bank_details(),
    }


def _order_email(kind: str, **extra: Any) -> Handler:
    def handle(event: OutboxEvent) -> None:
        order = _order(event)
        if order is None:  # deleted or anonymized since: nobody left to tell
            return
        queue_email(
            kind,
            order.email,
            order.locale,
            message_id=message_id_for(f"{event.type}.{event.id}"),
            **_order_context(order),
            **{name: event.payload.get(key) for name, key in extra.items()},
        )

    handle.__name__ = f"send_{kind}"
    return handle


def send_shipped(event: OutboxEvent) -> None:
    """The "shipped" mail: carrier, tracking number and link, as recorded on the shipment."""
    order = _order(event)
    shipment = db.session.get(Shipment, event.payload["shipment_id"])
    if order is None or shipment is None:
        return
    queue_email(
        "order_shipped",
        order.email,
        order.locale,
        message_id=message_id_for(f"{event.type}.{event.id}"),
        shipment=shipment,
        **_order_context(order),
    )


def _active_user(event: OutboxEvent) -> User | None:
    """The event's user if still active, share-locked like ``_order``'s order."""
    user = db.session.get(User, event.payload["user_id"], with_for_update={"read": True})
    if user is None or not user.is_active or _undeliverable(user.email):
        return None
    return user


def _message_id(event: OutboxEvent) -> str:
    return message_id_for(f"{event.type}.{event.id}")


def send_welcome(event: OutboxEvent) -> None:
    user = _active_user(event)
    if user is None:  # closed or anonymized since: nobody to welcome
        return
    queue_email("welcome", user.email, user.locale, message_id=_message_id(event))


def send_password_reset(event: OutboxEvent) -> None:
    """The reset link, with a token made now: the event holds none, and the token dies with
    the next password change and after ``PASSWORD_RESET_MAX_AGE`` anyway. A request older
    than that age is dropped: its asker has long moved on, and may ask again."""
    from shop.accounts.services import make_reset_token

    user = _active_user(event)
    if user is None:
        return
    max_age = int(current_app.config["PASSWORD_RESET_MAX_AGE"])
    asked = event.created_at
    if asked.tzinfo is None:  # SQLite hands back naive UTC
        asked = asked.replace(tzinfo=UTC)
    if utcnow() - asked > timedelta(seconds=max_age):
        log.warning("stale password reset request dropped", extra={"event": event.id})
        return
    queue_email(
        "password_reset",
        user.email,
        event.payload.get("locale") or user.locale,
        message_id=_message_id(event),
        token=make_reset_token(user),
        max_age_minutes=max_age // 60,
    )


def _issuing(issue: Callable[[OutboxEvent], None], then: Handler) -> Handler:
    """Issue the legal document first, in the event's transaction, then tell the customer:
    the invoice exists from the payment on, whether or not a mail can be sent (an anonymized
    or unsubscribed address, an SMTP server down for hours). The mail attaches it when sent;
    the PDF is rendered then, or on the first download."""

    def handle(event: OutboxEvent) -> None:
        try:
            issue(event)
        except InvoiceError as error:  # not paid (any more): no document, the mail as ever
            log.warning(
                "no document issued", extra={"event": event.id, "error": type(error).__name__}
            )
        then(event)

    handle.__name__ = then.__name__
    return handle


def _issue_invoice(event: OutboxEvent) -> None:
    invoices.issue_invoice_in_transaction(event.payload["order_id"])


def _issue_credit_note(event: OutboxEvent) -> None:
    invoices.issue_credit_note_in_transaction(event.payload["refund_id"])


HANDLERS: dict[str, Handler] = {
    "user_registered": send_welcome,
    "password_reset_requested": send_password_reset,
    "order_placed": _order_email("order_confirmation"),
    "order_paid": _issuing(_issue_invoice, _order_email("payment_received")),
    "order_cancelled": _order_email("order_cancelled"),
    "order_refunded": _issuing(
        _issue_credit_note, _order_email("order_refunded", refund_amount="amount")
    ),
    "order_shipped": send_shipped,
}
