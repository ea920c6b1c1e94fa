"""Staff retries of undelivered outbox events (DEAD, or FAILED and waiting for their next try).

A retry gives the event one more delivery now: it goes back to PENDING, due at once, and a
dispatch job is enqueued after the commit (the periodic sweep picks it up if that job is
lost). Its ``attempts`` are kept, so a DEAD event that fails again is DEAD again at once
rather than starting a new round of backoff.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from shop import queue
from shop.clock import utcnow
from shop.extensions import db
from shop.outbox.models import OutboxEvent, OutboxStatus

RETRYABLE = (OutboxStatus.DEAD, OutboxStatus.FAILED)


class NotRetryable(Exception):
    message = _l("This event is no longer waiting for a retry: it was delivered or retried.")


def undelivered(
    status: str = OutboxStatus.DEAD, *, limit: int = 50, offset: int = 0
) -> tuple[list[OutboxEvent], int]:
    """A page of events in ``status`` (dead or failed), the most recent failure first."""
    query = db.select(OutboxEvent).where(OutboxEvent.status == status)
    total = db.session.scalar(db.select(db.func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(OutboxEvent.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), total


def dead_event_ids(limit: int) -> list[int]:
    return list(
        db.session.scalars(
            db.select(OutboxEvent.id)
            .where(OutboxEvent.status == OutboxStatus.DEAD)
            .order_by(OutboxEvent.id)
            .limit(limit)
        )
    )


def retry(event_id: int) -> OutboxEvent:
    """Send one event to delivery again (locked, so a running dispatch is not disturbed)."""
    event = db.session.execute(
        db.select(OutboxEvent)
        .where(OutboxEvent.id == event_id, OutboxEvent.status.in_(RETRYABLE))
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if event is None:
        db.session.rollback()
        raise NotRetryable(event_id)
    event.status = OutboxStatus.PENDING
    event.next_retry_at = utcnow()
    event.processed_at = None
    queue.defer("shop.jobs.dispatch_outbox_event", event.id)
    db.session.commit()
    return event
