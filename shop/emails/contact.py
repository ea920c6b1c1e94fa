"""Messages visitors send from the contact page: recorded as an outbox event in the caller's
request, mailed to the shop by the event's handler (``shop.handlers``), never from the request.
"""

from __future__ import annotations

from sqlalchemy import select, update

from shop.emails.models import EmailMessage, EmailStatus
from shop.emails.services import message_id_for
from shop.extensions import db
from shop.outbox.models import OutboxEvent, OutboxStatus
from shop.outbox.services import emit

EVENT = "contact_message"


def one_line(text: str) -> str:
    """Header-safe: no line breaks (a subject or a name goes into a mail header)."""
    return " ".join(text.split())


def send_contact_message(*, name: str, email: str, subject: str, message: str, locale: str) -> None:
    """Record the message for the shop and commit; ``email``: already checked by the form."""
    emit(
        EVENT,
        name=one_line(name),
        email=email,
        subject=one_line(subject),
        message=message.strip(),
        locale=locale,
    )
    db.session.commit()


def messages_from(addresses: set[str]) -> list[OutboxEvent]:
    """The contact messages sent from any of ``addresses`` (compared without case). The
    payload is JSON, queried differently by each database: read in Python, a page at a
    time (contact messages are few next to orders)."""
    wanted = {address.strip().lower() for address in addresses}
    found = []
    for event in db.session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.type == EVENT)
        .order_by(OutboxEvent.id)
        .execution_options(yield_per=500)
    ):
        if str(event.payload.get("email", "")).strip().lower() in wanted:
            found.append(event)
    return found


def forget_sender(addresses: set[str], placeholder: str) -> int:
    """Scrub what a sender wrote from the contact page (GDPR erasure, in the caller's
    transaction): each event keeps its type and dates, loses name, address, subject and
    text; one still waiting is never handled; the mail it became keeps its recipient (the
    shop) and dates and loses subject and body (a waiting one is never sent). Returns the
    number of messages scrubbed."""
    events = messages_from(addresses)
    for event in events:
        event.payload = {
            "name": "",
            "email": placeholder,
            "subject": "",
            "message": "",
            "locale": event.payload.get("locale", ""),
        }
        if event.status != OutboxStatus.DONE:
            event.status = OutboxStatus.DEAD
            event.last_error = "sender anonymized"
    if events:
        ids = [message_id_for(f"{EVENT}.{event.id}") for event in events]
        mails = EmailMessage.message_id.in_(ids)
        db.session.execute(
            update(EmailMessage)
            .where(mails, EmailMessage.status == EmailStatus.PENDING)
            .values(status=EmailStatus.FAILED, last_error="sender anonymized")
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            update(EmailMessage)
            .where(mails)
            .values(subject="", text_body="", html_body="")
            .execution_options(synchronize_session=False)
        )
    return len(events)
