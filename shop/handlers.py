"""What each outbox event does: ``{event type: handler}``, looked up by the dispatcher
(``shop.outbox.dispatch``) under this module's dotted name. The top floor, beside the job
bodies: handlers use several domain packages, and none of them imports this module.

A handler takes the claimed event and runs inside the dispatcher's transaction (it must not
commit). It is idempotent: emails are queued under a Message-ID derived from the event id
(``<order_paid.123@shop>``), so running an event twice queues one email.

A paid order's invoice and a refund's credit note are issued by their event's handler, in
that same transaction, before the mail is queued; the mail names the document
(``email_outbox.invoice_id``) and the mailer attaches its stored PDF. The PDF is rendered
once, by the ``render_pending_documents`` job deferred here; the mail waits for it.

Account mails name the user only: the handler reads the address and language when it runs,
and makes the password reset token itself (see ``send_password_reset``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, timedelta
from email.utils import parseaddr
from typing import Any

from flask import current_app

from shop import queue
from shop.accounts.models import User
from shop.accounts.services import make_reset_token
from shop.clock import utcnow
from shop.config import DEFAULT_LOCALE
from shop.emails import contact, transport
from shop.emails.services import message_id_for, queue_email
from shop.extensions import db
from shop.invoices import services as invoices
from shop.invoices.models import Invoice
from shop.invoices.services import InvoiceError
from shop.orders.models import Order, Shipment
from shop.orders.services import email_context
from shop.outbox.models import OutboxEvent
from shop.platform.services import stored

log = logging.getLogger("shop.outbox")

Handler = Callable[[OutboxEvent], None]
RENDER_JOB = "shop.jobs.render_pending_documents"


def _order(event: OutboxEvent) -> Order | None:
    """The event's order, share-locked until the mail is queued: an anonymization (which
    locks the order to rewrite its address, then scrubs the queued mails) either waits for
    this mail and scrubs it, or has finished and this mail is not written."""
    order = db.session.get(Order, event.payload["order_id"], with_for_update={"read": True})
    return None if order is None or _undeliverable(order.email) else order


def _undeliverable(address: str) -> bool:
    """``.invalid`` is reserved never to resolve (RFC 2606): anonymized records use it."""
    return address.rsplit("@", 1)[-1].lower().endswith(".invalid")


def _message_id(event: OutboxEvent) -> str:
    return message_id_for(f"{event.type}.{event.id}")


def _send_order_email(
    kind: str, event: OutboxEvent, *, document: Invoice | None = None, **extra: Any
) -> None:
    order = _order(event)
    if order is None:  # deleted or anonymized since: nobody left to tell
        return
    queue_email(
        kind,
        order.email,
        order.locale,
        message_id=_message_id(event),
        invoice_id=document.id if document is not None else None,
        **email_context(order),
        **extra,
    )


def _order_email(kind: str, **extra: str) -> Handler:
    """A handler queueing ``kind`` for the event's order (``extra``: template variable <-
    event payload key)."""

    def handle(event: OutboxEvent) -> None:
        _send_order_email(
            kind, event, **{name: event.payload.get(key) for name, key in extra.items()}
        )

    handle.__name__ = f"send_{kind}"
    return handle


def send_shipped(event: OutboxEvent) -> None:
    """The "shipped" mail: carrier, tracking number and link, as recorded on the shipment."""
    shipment = db.session.get(Shipment, event.payload["shipment_id"])
    if shipment is None:
        return
    _send_order_email("order_shipped", event, shipment=shipment)


def _active_user(event: OutboxEvent) -> User | None:
    """The event's user if still active, share-locked like ``_order``'s order."""
    user = db.session.get(User, event.payload["user_id"], with_for_update={"read": True})
    if user is None or not user.is_active or _undeliverable(user.email):
        return None
    return user


def send_welcome(event: OutboxEvent) -> None:
    user = _active_user(event)
    if user is None:  # closed or anonymized since: nobody to welcome
        return
    queue_email("welcome", user.email, user.locale, message_id=_message_id(event))


def send_password_reset(event: OutboxEvent) -> None:
    """The reset link, with a token made now: the event holds none, and the token dies with
    the next password change and after ``PASSWORD_RESET_MAX_AGE`` anyway. A request older
    than that age is dropped: its asker has long moved on, and may ask again."""
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


def shop_address() -> str:
    """Where the shop reads its mail: the contact email of the store identity, else the
    address the shop sends from."""
    saved = stored(["legal_email"]).get("legal_email", "").strip()
    return saved or parseaddr(transport.mail_from())[1]


def send_contact_message(event: OutboxEvent) -> None:
    """A visitor's message from the contact page, to the shop, in the shop's language. The
    mail layer sets no Reply-To: the body gives the visitor's address to answer to."""
    to = shop_address()
    if not to:
        log.warning("contact message dropped: the shop has no address", extra={"event": event.id})
        return
    payload = event.payload
    queue_email(
        "contact_message",
        to,
        DEFAULT_LOCALE,
        message_id=_message_id(event),
        name=payload["name"],
        email=payload["email"],
        subject=payload["subject"],
        message=payload["message"],
        sender_locale=payload.get("locale", ""),
    )


def _with_document(issue: Callable[[OutboxEvent], Invoice], kind: str, **extra: str) -> Handler:
    """Issue the legal document first, in the event's transaction, then tell the customer:
    the invoice exists from the payment on, whether or not a mail can be sent (an anonymized
    or unsubscribed address, an SMTP server down for hours). Its PDF is rendered by a job
    after the commit; the mail names it and waits for it."""

    def handle(event: OutboxEvent) -> None:
        document: Invoice | None = None
        try:
            document = issue(event)
        except InvoiceError as error:  # not paid (any more): no document, the mail as ever
            log.warning(
                "no document issued", extra={"event": event.id, "error": type(error).__name__}
            )
        if document is not None and document.pdf_path is None:
            queue.defer(RENDER_JOB)
        _send_order_email(
            kind,
            event,
            document=document,
            **{name: event.payload.get(key) for name, key in extra.items()},
        )

    handle.__name__ = f"send_{kind}"
    return handle


def _issue_invoice(event: OutboxEvent) -> Invoice:
    return invoices.issue_invoice_in_transaction(event.payload["order_id"])


def _issue_credit_note(event: OutboxEvent) -> Invoice:
    return invoices.issue_credit_note_in_transaction(event.payload["refund_id"])


HANDLERS: dict[str, Handler] = {
    "user_registered": send_welcome,
    "password_reset_requested": send_password_reset,
    "order_placed": _order_email("order_confirmation"),
    "order_paid": _with_document(_issue_invoice, "payment_received"),
    "order_cancelled": _order_email("order_cancelled"),
    "order_refunded": _with_document(_issue_credit_note, "order_refunded", refund_amount="amount"),
    "order_shipped": send_shipped,
    contact.EVENT: send_contact_message,
}
