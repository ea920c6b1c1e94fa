"""Invoice PDFs attached to the mails that announce them, at send time.

The "payment received" mail carries the invoice; the refund mail carries the credit note.
Both documents are issued and rendered here on first need (idempotent: a resend attaches
the same file), so an invoice exists as soon as the customer is told the order is paid.
"""

from __future__ import annotations

from shop.emails.models import EmailMessage
from shop.emails.services import Attachment, source_event
from shop.extensions import db
from shop.invoices import services
from shop.invoices.pdf import render_pdf
from shop.outbox.models import OutboxEvent

EVENT_TYPES = frozenset({"order_paid", "order_refunded"})  # mails that carry a document


def for_email(message: EmailMessage) -> list[Attachment]:
    source = source_event(message)
    if source is None:
        return []
    event_type, event_id = source
    if event_type not in EVENT_TYPES:
        return []
    event = db.session.get(OutboxEvent, event_id)
    if event is None:
        return []
    if event_type == "order_paid":
        document = services.on_order_paid(event.payload["order_id"])
    else:
        document = services.on_order_refunded(event.payload["refund_id"])
    path = render_pdf(document.id)
    return [Attachment(f"{document.full_number}.pdf", "application/pdf", path.read_bytes())]
