"""``audited(...)``: the audit entry for a staff write, with actor and IP from the request."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from flask import request
from flask_login import current_user

from shop.audit import services as audit

Snapshot = dict[str, Any] | None


def audited(
    action: str,
    entity_type: str,
    entity_id: object = "",
    *,
    before: Snapshot = None,
    after: Snapshot | Callable[[], Snapshot] = None,
    secret_fields: frozenset[str] | set[str] = frozenset(),
) -> AbstractContextManager[audit.Entry]:
    """Wrap the service call of an admin write::

        with audited("order.cancel", "order", order.id, before={"status": order.status},
                     after=lambda: {"status": order.status}):
            orders.cancel(order.id)

    The entry commits with the service's transaction. Catch domain errors outside the block.
    """
    return audit.track(
        actor_id=current_user.id,
        actor_email=current_user.email,
        ip=request.remote_addr or "",
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
        secret_fields=secret_fields,
    )
