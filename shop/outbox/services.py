"""Writing outbox events: in the caller's transaction, so an event exists iff its change does.

Each commit that wrote events is followed by a dispatch job (``shop.jobs.dispatch_outbox_events``,
coalesced: one waiting copy delivers every due event, a burst costs a job or two), and the
periodic sweep delivers them if that job is lost (Redis down): see ``shop.outbox.dispatch``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from shop import queue
from shop.extensions import db
from shop.outbox.models import OutboxEvent

# One INSERT (no unit of work: every order writes one), the columns' defaults filled in.
_INSERT_EVENT = insert(OutboxEvent.__table__)


def emit(event_type: str, **payload: Any) -> None:
    """Add an event to the current transaction (the caller commits)."""
    db.session.execute(
        _INSERT_EVENT,
        {"type": event_type, "payload": payload, "order_id": payload.get("order_id")},
    )
    queue.defer("shop.jobs.dispatch_outbox_events")
