from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shop.clock import utcnow
from shop.extensions import db


class EmailStatus:
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    ALL = (PENDING, SENT, FAILED)


class EmailMessage(db.Model):
    """A rendered email waiting for (or done with) delivery; written in the business transaction."""

    __tablename__ = "email_outbox"
    __table_args__ = (
        CheckConstraint(f"status IN {EmailStatus.ALL!r}", name="status_known"),
        Index("ix_email_outbox_pending", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(String(255))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    # The invoice or credit note the mail announces: its stored PDF is attached when sent,
    # and the mail waits until it is rendered.
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=EmailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))


class EmailSuppression(db.Model):
    """An address that asked for no more marketing mail, kept as the SHA-256 of its lower-cased
    spelling: enough to answer "may we write to X?", while a copy of the list is no mailing
    list. See ``shop.emails.suppression``."""

    __tablename__ = "email_suppressions"

    address_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(20), default="unsubscribed")
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
