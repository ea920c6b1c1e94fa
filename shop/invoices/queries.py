"""The invoices and credit notes a customer may download from an order page (their account,
or the guest confirmation link): one query per order, without the snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from shop.extensions import db
from shop.invoices.models import Invoice, InvoiceKind


@dataclass(frozen=True)
class Document:
    """An issued invoice or credit note, without its snapshot (the page needs no more)."""

    id: int
    kind: str
    full_number: str
    issued_at: datetime
    ready: bool  # its PDF is rendered (until then the page says it is being prepared)

    @property
    def is_credit_note(self) -> bool:
        return self.kind == InvoiceKind.CREDIT_NOTE


def documents_of(order_id: int) -> list[Document]:
    """The order's invoice and credit notes, oldest first."""
    rows = db.session.execute(
        select(
            Invoice.id,
            Invoice.kind,
            Invoice.full_number,
            Invoice.issued_at,
            Invoice.pdf_path.is_not(None),
        )
        .where(Invoice.order_id == order_id)
        .order_by(Invoice.issued_at, Invoice.id)
    ).all()
    return [Document(*row) for row in rows]


def document_of(order_id: int, invoice_id: int) -> Invoice | None:
    """The invoice or credit note ``invoice_id`` if it belongs to ``order_id``."""
    invoice = db.session.get(Invoice, invoice_id)
    return invoice if invoice is not None and invoice.order_id == order_id else None
