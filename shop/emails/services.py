"""Emails: rendered in the recipient's language when queued, delivered by a job after commit
(``shop.jobs.deliver_emails``: every queued message over one SMTP session, see ``batch``).

Retries without new columns: a failed delivery leaves the message PENDING with its
``attempts`` and ``last_error``. The periodic outbox sweep (``retry_due``) re-sends a pending
message once ``created_at + RETRY_GRACE + 30 s × (2^attempts − 1)`` has passed (each wait
capped at one hour), i.e. 30 s, 1 min, 2 min, ... after the previous try; the grace leaves
fresh messages to the job enqueued after their commit (and picks them up if that enqueue was
lost, e.g. Redis down). After ``EMAIL_MAX_ATTEMPTS`` (default 8) the message is FAILED.
"""

from __future__ import annotations

import functools
import logging
import smtplib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import ColumnElement
from werkzeug.routing import BuildError

from shop import queue
from shop.clock import utcnow
from shop.emails import suppression, transport, wire
from shop.emails.models import EmailMessage, EmailStatus
from shop.extensions import db
from shop.invoices import pdf
from shop.invoices.models import Invoice

log = logging.getLogger("shop.emails")

RETRY_GRACE = timedelta(minutes=2)
RETRY_BASE_SECONDS = 30
RETRY_CAP_SECONDS = 3600
DEFAULT_MAX_ATTEMPTS = 8
SECRET_KINDS = frozenset({"password_reset"})
REDACTED_BODY = "[removed once delivered: it held a password reset link]"
MARKETING_KIND_PREFIXES = ("abandoned_cart", "cart_recovery")
UNSUBSCRIBE_ENDPOINT = "account.unsubscribe"
_UNSUBSCRIBE_SALT = "comptoir.unsubscribe"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "application/pdf"
    data: bytes


# -- queueing ------------------------------------------------------------------------------


def mail_domain() -> str:
    return transport.mail_from().rsplit("@", 1)[-1].strip("> ")


def message_id_for(tag: str) -> str:
    """A deterministic Message-ID (``<order_paid.123@shop>``): the same source, the same id,
    so a handler run twice finds the message it queued the first time."""
    return f"<{tag}@{mail_domain()}>"


def queue_email(
    kind: str,
    to: str,
    locale: str,
    *,
    message_id: str | None = None,
    invoice_id: int | None = None,
    **context: Any,
) -> EmailMessage:
    """Render ``emails/<kind>.txt`` and ``.html`` and add the message to the session.

    The caller's transaction commits it; delivery is enqueued only after that commit. With a
    ``message_id`` already queued, the existing message is returned and nothing is added.
    ``invoice_id``: the invoice or credit note whose stored PDF the mail carries (it is
    sent once that PDF is rendered).
    """
    if message_id is not None:
        existing = db.session.execute(
            db.select(EmailMessage).where(EmailMessage.message_id == message_id)
        ).scalar_one_or_none()
        if existing is not None:
            return existing
    with force_locale(locale):
        context = {"locale": locale, "shop_name": current_app.config["SHOP_NAME"], **context}
        subject = render_template(f"emails/{kind}.subject.txt", **context).strip()
        text = render_template(f"emails/{kind}.txt", **context)
        html = render_template(f"emails/{kind}.html", **context)
    message = EmailMessage(
        kind=kind,
        to_address=to,
        locale=locale,
        subject=subject,
        text_body=text,
        html_body=html,
        message_id=message_id or make_msgid(idstring=kind, domain=mail_domain()),
        invoice_id=invoice_id,
    )
    db.session.add(message)
    db.session.flush()
    queue.defer("shop.jobs.deliver_emails")
    return message


# -- building the MIME message -----------------------------------------------------------


def is_marketing(kind: str) -> bool:
    return kind.startswith(MARKETING_KIND_PREFIXES)


def unsubscribe_token(address: str) -> str:
    return _unsubscribe_serializer().dumps(address.strip().lower())


def address_for_unsubscribe_token(token: str) -> str | None:
    """The address a marketing mail's unsubscribe link was made for (None: not signed by us).

    The link never expires: a mail read a year later must still let its reader opt out
    (every marketing message has to carry a working way to object), and all it can do is
    stop marketing mail to the address it names."""
    try:
        address = _unsubscribe_serializer().loads(token)
    except BadSignature:
        return None
    return address if isinstance(address, str) else None


def _unsubscribe_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_UNSUBSCRIBE_SALT)


def list_unsubscribe_headers(message: EmailMessage) -> dict[str, str]:
    """RFC 2369 / RFC 8058 headers for a marketing mail: a one-click HTTPS link (once the
    ``account.unsubscribe`` page exists) and a mailto fallback to the shop's address."""
    from shop.urls import public_url

    sender = transport.mail_from().rsplit("<", 1)[-1].strip("> ")
    targets = [f"<mailto:{sender}?subject=unsubscribe>"]
    headers: dict[str, str] = {}
    try:
        url = public_url(
            UNSUBSCRIBE_ENDPOINT,
            lang=message.locale,
            token=unsubscribe_token(message.to_address),
        )
    except BuildError:
        url = None
    if url:
        targets.insert(0, f"<{url}>")
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    headers["List-Unsubscribe"] = ", ".join(targets)
    return headers


def attachments_for(message: EmailMessage) -> list[Attachment] | None:
    """The files the message carries: the stored PDF of the document it names, if any.
    None while that PDF is not rendered yet (the message waits: the job rendering it
    sends the waiting mails next)."""
    if message.invoice_id is None:
        return []
    invoice = db.session.get(Invoice, message.invoice_id)
    path = pdf.stored_pdf(invoice) if invoice is not None else None
    if path is None:
        return None
    return [Attachment(invoice.filename, "application/pdf", path.read_bytes())]


def ready_to_send() -> ColumnElement[bool]:
    """Messages naming no document, or one whose PDF is rendered (the others wait)."""
    return ~(
        db.select(Invoice.id)
        .where(Invoice.id == EmailMessage.invoice_id, Invoice.pdf_path.is_(None))
        .exists()
    )


def headers_for(message: EmailMessage) -> list[tuple[str, str]]:
    """The message's headers, in order, values unencoded (``wire`` encodes them)."""
    headers = [
        ("Subject", message.subject),
        ("From", _sender(transport.mail_from())[0]),
        ("To", wire.mailbox(message.to_address)),
        ("Message-ID", message.message_id),
        ("Date", format_datetime(_utc(message.created_at))),
        ("Content-Language", message.locale),
    ]
    if is_marketing(message.kind):
        headers += list_unsubscribe_headers(message).items()
    return headers


@functools.lru_cache(maxsize=8)
def _sender(mail_from: str) -> tuple[wire.Mailbox, str]:
    """The From header and the envelope sender of the shop's address (parsed once, not per
    message)."""
    return wire.mailbox(mail_from), parseaddr(mail_from)[1]


def _utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes: ours are always UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def to_wire(message: EmailMessage, attachments: Iterable[Attachment] = ()) -> wire.Outgoing:
    """The envelope and bytes handed to SMTP (see ``wire`` for the format)."""
    data = wire.build(
        headers=headers_for(message),
        text=message.text_body,
        html=message.html_body,
        attachments=[(a.filename, a.content_type, a.data) for a in attachments],
    )
    return wire.Outgoing(
        sender=_sender(transport.mail_from())[1],
        recipient=parseaddr(message.to_address)[1] or message.to_address,
        message_id=message.message_id,
        data=data,
    )


def to_mime(message: EmailMessage, attachments: Iterable[Attachment] = ()) -> MimeMessage:
    """The message as the standard library reads it back (for tests and previews)."""
    parsed = message_from_bytes(to_wire(message, attachments).data, policy=policy.default)
    assert isinstance(parsed, MimeMessage)
    return parsed


# -- delivery ------------------------------------------------------------------------------


def deliver(
    email_id: int,
    *,
    send: Callable[[wire.Outgoing], None] | None = None,
    skip_locked: bool = False,
) -> bool:
    """Send one queued email; safe to run twice (a sent message is skipped).

    The row stays locked while it is handed to SMTP, so two workers never send it twice.
    Returns whether this call sent it. An SMTP failure is recorded (attempts, last_error),
    re-raised, and retried later by ``retry_due``. ``send`` replaces ``transport.send``
    (a batch passes its open session); with ``skip_locked``, a message another worker holds
    is left to it (returns False) instead of waited for. A message whose document is not
    rendered yet is left waiting (False), its attempts untouched.
    """
    message = db.session.execute(
        db.select(EmailMessage)
        .where(EmailMessage.id == email_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if message is None or message.status != EmailStatus.PENDING:
        db.session.rollback()
        return False
    files = attachments_for(message)
    if files is None:
        db.session.rollback()
        return False
    if is_marketing(message.kind) and suppression.is_suppressed(message.to_address):
        # Unsubscribed since it was queued: never sent.
        message.status = EmailStatus.FAILED
        message.last_error = "suppressed: the address unsubscribed from marketing mail"
        db.session.commit()
        return False
    message.attempts += 1
    try:
        (send or transport.send)(to_wire(message, files))
    except (OSError, smtplib.SMTPException) as error:
        message.last_error = f"{type(error).__name__}: {error}"[:2000]
        if message.attempts >= max_attempts():
            message.status = EmailStatus.FAILED
            _forget_secrets(message)
            log.error("email given up", extra={"email": message.id, "error": message.last_error})
        db.session.commit()
        raise
    message.status = EmailStatus.SENT
    message.sent_at = utcnow()
    message.last_error = None
    _forget_secrets(message)
    db.session.commit()
    return True


def _forget_secrets(message: EmailMessage) -> None:
    """A message whose body is a credential (a password reset link) keeps it only while it
    may still be sent: once sent or given up, the body goes, the rest of the row stays."""
    if message.kind in SECRET_KINDS:
        message.text_body = message.html_body = REDACTED_BODY


def max_attempts() -> int:
    return int(current_app.config.get("EMAIL_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))


def retry_wait(attempts: int) -> timedelta:
    """Total wait before try number ``attempts + 1``: 30 s × (2^attempts − 1), each step
    capped at one hour."""
    total = sum(min(RETRY_BASE_SECONDS * 2**n, RETRY_CAP_SECONDS) for n in range(attempts))
    return timedelta(seconds=total)


def due_for_retry(message: EmailMessage, now: datetime) -> bool:
    return now >= message.created_at + RETRY_GRACE + retry_wait(message.attempts)


def retry_due(now: datetime | None = None, batch: int = 200) -> int:
    """Re-send pending messages whose wait is over; returns how many were sent."""
    now = now or utcnow()
    candidates = (
        db.session.execute(
            db.select(EmailMessage)
            .where(
                EmailMessage.status == EmailStatus.PENDING,
                EmailMessage.created_at <= now - RETRY_GRACE,
                ready_to_send(),
            )
            .order_by(EmailMessage.id)
            .limit(batch)
        )
        .scalars()
        .all()
    )
    due = [m.id for m in candidates if due_for_retry(m, now)]
    db.session.rollback()
    sent = 0
    for email_id in due:
        try:
            sent += deliver(email_id)
        except (OSError, smtplib.SMTPException):
            log.warning("email retry failed", extra={"email": email_id})
    return sent
