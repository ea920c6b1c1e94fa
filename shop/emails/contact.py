"""Messages visitors send from the contact page: recorded as an outbox event in the caller's
request, mailed to the shop by the event's handler (``shop.handlers``), never from the request.
"""

from __future__ import annotations

from shop.extensions import db
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
