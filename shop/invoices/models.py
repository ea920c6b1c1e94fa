"""Invoices and credit notes: gapless numbers per series and year, an immutable snapshot, a PDF."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.clock import utcnow
from shop.extensions import db


class InvoiceKind:
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    ALL = (INVOICE, CREDIT_NOTE)
    # F: factures; AV: avoirs. Each series has its own gapless sequence per year.
    SERIES = {INVOICE: "F", CREDIT_NOTE: "AV"}


class InvoiceSequence(db.Model):
    """A row-locked counter per series and year: the next number is ``last_value + 1``."""

    __tablename__ = "invoice_sequences"

    series: Mapped[str] = mapped_column(String(4), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(default=0)


class Invoice(db.Model):
    """An issued invoice or credit note. Nothing printed is ever read from elsewhere: ``data``
    holds it all, frozen when issued, and the PDF is rendered from it alone."""

    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint(f"kind IN {InvoiceKind.ALL!r}", name="kind_known"),
        CheckConstraint(
            "(kind = 'invoice' AND credits_invoice_id IS NULL AND refund_id IS NULL)"
            " OR (kind = 'credit_note' AND credits_invoice_id IS NOT NULL)",
            name="credit_note_references_invoice",
        ),
        UniqueConstraint("series", "year", "number", name="uq_invoices_series_year_number"),
        # One invoice per order (credit notes: one per refund, through refund_id's unique).
        Index(
            "uq_invoices_order_invoice",
            "order_id",
            unique=True,
            postgresql_where=db.text("kind = 'invoice'"),
            sqlite_where=db.text("kind = 'invoice'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    series: Mapped[str] = mapped_column(String(4))
    year: Mapped[int] = mapped_column()
    number: Mapped[int] = mapped_column()
    full_number: Mapped[str] = mapped_column(String(24), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    credits_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"), unique=True)
    locale: Mapped[str] = mapped_column(String(5))
    issued_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    pdf_path: Mapped[str | None] = mapped_column(String(255))  # under instance/invoices
    sha256: Mapped[str | None] = mapped_column(String(64))

    credits_invoice: Mapped[Invoice | None] = relationship(remote_side=[id])

    @property
    def is_credit_note(self) -> bool:
        return self.kind == InvoiceKind.CREDIT_NOTE

    @property
    def filename(self) -> str:
        return f"{self.full_number}.pdf"
