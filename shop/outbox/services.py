"""Writing outbox events: in the caller's transaction, so an event exists iff its change does.

Each commit that wrote events is followed by a dispatch job (``jobs.dispatch_outbox_events``,
coalesced: one waiting copy delivers every due event, a burst costs a job or two), and the
periodic sweep delivers them if that job is lost (Redis down): see ``shop.outbox.dispatch``.
"""

from __future__ import annotations

from typing import Any

from shop import jobs
from shop.extensions import db
from shop.outbox.models import OutboxEvent


def emit(event_type: str, **payload: Any) -> OutboxEvent:
    """Add an event to the current transaction (the caller commits)."""
    event = OutboxEvent(type=event_type, payload=payload)
    db.session.add(event)
    db.session.flush()
    jobs.defer(jobs.dispatch_outbox_events)
    return event
