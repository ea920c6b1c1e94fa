"""Writing outbox events: in the caller's transaction, so an event exists iff its change does.

Delivery (dispatch with retries and backoff) is the jobs issue's; events wait here till then.
"""

from __future__ import annotations

from typing import Any

from shop.extensions import db
from shop.outbox.models import OutboxEvent


def emit(event_type: str, **payload: Any) -> OutboxEvent:
    """Add an event to the current transaction (the caller commits)."""
    event = OutboxEvent(type=event_type, payload=payload)
    db.session.add(event)
    return event
