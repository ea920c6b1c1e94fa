"""The outbox: business events written in the same transaction as the change they announce."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shop.clock import utcnow
from shop.extensions import db


class OutboxStatus:
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    DEAD = "dead"
    ALL = (PENDING, DONE, FAILED, DEAD)


class OutboxEvent(db.Model):
    __tablename__ = "outbox_events"
    __table_args__ = (
        CheckConstraint(f"status IN {OutboxStatus.ALL!r}", name="status_known"),
        Index("ix_outbox_events_due", "status", "next_retry_at"),
        Index("ix_outbox_events_order_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The order an event is about (its payload's order_id), as a column: an order's page
    # finds its events through an index instead of reading every payload.
    order_id: Mapped[int | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_retry_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))
