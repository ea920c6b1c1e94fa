"""Sending an order email again (the customer lost it), through the same templates.

A resend is queued for the outbox event the original was queued for, with a Message-ID of
its own: ``<order_paid.123@resend-<random>.shop>`` (the left part names the event for whoever
reads the headers; the right part makes it a new message that mail clients do not fold into
the first one). It names the same document as the original (``invoice_id``), so the invoice
or credit note is attached again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l

from shop.backoffice.orders import order_events
from shop.emails.models import EmailMessage
from shop.emails.services import mail_domain, message_id_for, queue_email
from shop.extensions import db
from shop.orders.models import Order, Shipment
from shop.orders.services import email_context
from shop.outbox.models import OutboxEvent


class ResendError(Exception):
    message = _l("This email cannot be sent again.")


class NothingToResend(ResendError):
    message = _l("This email was never sent for this order, so it cannot be sent again.")


@dataclass(frozen=True)
class Resendable:
    kind: str  # the email template
    event_type: str  # the outbox event the original was queued for
    extras: tuple[tuple[str, str], ...] = ()  # template variable <- event payload key
    # template variable <- the row of this model whose id is the payload's key
    rows: tuple[tuple[str, type[db.Model], str], ...] = ()


RESENDABLE: dict[str, Resendable] = {
    r.kind: r
    for r in (
        Resendable("order_confirmation", "order_placed"),
        Resendable("payment_received", "order_paid"),
        Resendable("order_shipped", "order_shipped", rows=(("shipment", Shipment, "shipment_id"),)),
        Resendable("order_refunded", "order_refunded", (("refund_amount", "amount"),)),
        Resendable("order_cancelled", "order_cancelled"),
    )
}


def sources(order_id: int, events: list[OutboxEvent] | None = None) -> dict[str, list[int]]:
    """For each email kind, the ids of this order's events it can be sent again for."""
    events = order_events(order_id) if events is None else events
    found: dict[str, list[int]] = {}
    for spec in RESENDABLE.values():
        ids = [e.id for e in events if e.type == spec.event_type]
        if ids:
            found[spec.kind] = ids
    return found


def queue_resend(order_id: int, kind: str, *, event_id: int | None = None) -> EmailMessage:
    """Queue ``kind`` again for the order (the latest event of its type, or ``event_id``).

    Adds the message to the session and leaves the commit to the caller, like
    ``queue_email``; delivery starts once that commit is done. Raises ``NothingToResend``.
    """
    spec = RESENDABLE.get(kind)
    order = db.session.get(Order, order_id)
    if spec is None or order is None:
        raise NothingToResend(kind)
    candidates = [e for e in order_events(order_id) if e.type == spec.event_type]
    if event_id is not None:
        candidates = [e for e in candidates if e.id == event_id]
    if not candidates:
        raise NothingToResend(kind)
    event = candidates[-1]
    context: dict[str, Any] = email_context(order)
    context.update({name: event.payload.get(key) for name, key in spec.extras})
    for name, model, key in spec.rows:
        row = db.session.get(model, event.payload.get(key))
        if row is None:  # deleted since: the original cannot be rebuilt
            raise NothingToResend(kind)
        context[name] = row
    original = db.session.execute(
        db.select(EmailMessage.invoice_id).where(
            EmailMessage.message_id == message_id_for(f"{event.type}.{event.id}")
        )
    ).scalar_one_or_none()
    return queue_email(
        kind,
        order.email,
        order.locale,
        message_id=f"<{event.type}.{event.id}@resend-{secrets.token_hex(6)}.{mail_domain()}>",
        invoice_id=original,
        **context,
    )
