"""Recording staff writes in the same transaction as the write itself.

A view opens ``track(...)`` around the service call. The entry waits in the session and is
inserted by a ``before_commit`` hook, so it commits with the change (a rollback drops it);
``after`` may be a callable, evaluated at that moment, to capture the new state even when
the service commits internally.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from shop.audit.models import AuditLog
from shop.extensions import db

_PENDING = "comptoir_audit_pending"
REDACTED = "[redacted]"
Snapshot = dict[str, Any] | None


@dataclass
class Entry:
    actor_id: int | None
    actor_email: str
    ip: str
    action: str
    entity_type: str
    entity_id: str
    before: Snapshot = None
    after: Snapshot | Callable[[], Snapshot] = None
    secret_fields: frozenset[str] = field(default_factory=frozenset)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.loads(json.dumps(value, default=str))


def _diff(before: Snapshot, after: Snapshot, secrets: frozenset[str]) -> tuple[Snapshot, Snapshot]:
    """Keep only the fields that changed (every field for a creation or a deletion), with
    secret values replaced by a marker: the log says a secret changed, never to what."""

    def clean(snapshot: dict[str, Any], keys: set[str]) -> dict[str, Any]:
        return {
            k: REDACTED if k in secrets else _jsonable(snapshot[k]) for k in keys if k in snapshot
        }

    if before is not None and after is not None:
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        return clean(before, changed), clean(after, changed)
    return (
        None if before is None else clean(before, set(before)),
        None if after is None else clean(after, set(after)),
    )


def _pending(session: Session) -> list[Entry]:
    return session.info.setdefault(_PENDING, [])


@contextlib.contextmanager
def track(
    *,
    actor_id: int | None,
    actor_email: str,
    ip: str,
    action: str,
    entity_type: str,
    entity_id: object = "",
    before: Snapshot = None,
    after: Snapshot | Callable[[], Snapshot] = None,
    secret_fields: frozenset[str] | set[str] = frozenset(),
) -> Iterator[Entry]:
    """Record ``action`` with the next commit of the session; forget it if the block raises.

    The block may set ``entry.after`` (or ``entry.entity_id`` once a new row has its id).
    Catch domain errors *outside* the block: an exception leaving it drops the entry, and a
    service that rolls back drops it too. A block that ends without committing gets the
    entry committed on its own (the write was then made by the block itself).
    """
    entry = Entry(
        actor_id=actor_id,
        actor_email=actor_email,
        ip=ip,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=before,
        after=after,
        secret_fields=frozenset(secret_fields),
    )
    pending = _pending(db.session())
    pending.append(entry)
    try:
        yield entry
    except BaseException:
        if entry in pending:
            pending.remove(entry)
        raise
    if entry in pending:  # the block did not commit: commit the entry on its own
        db.session.commit()


def _write_pending(session: Session) -> None:
    entries = session.info.pop(_PENDING, None)
    if not entries:
        return
    for entry in entries:
        after = entry.after() if callable(entry.after) else entry.after
        before, after = _diff(entry.before, after, entry.secret_fields)
        session.add(
            AuditLog(
                actor_id=entry.actor_id,
                actor_email=entry.actor_email,
                action=entry.action,
                entity_type=entry.entity_type,
                entity_id=str(entry.entity_id),
                before=before,
                after=after,
                ip=entry.ip,
            )
        )
    session.flush()


def _drop_pending(session: Session, *_: Any) -> None:
    session.info.pop(_PENDING, None)


def init_app() -> None:
    if not event.contains(Session, "before_commit", _write_pending):
        event.listen(Session, "before_commit", _write_pending)
        event.listen(Session, "after_soft_rollback", _drop_pending)


def entries(
    *,
    actor_id: int | None = None,
    action: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AuditLog], int]:
    """A page of the log, newest first, and the number of matching rows."""
    query = db.select(AuditLog)
    if actor_id is not None:
        query = query.where(AuditLog.actor_id == actor_id)
    if action:
        query = query.where(AuditLog.action.startswith(action))
    if entity_type:
        query = query.where(AuditLog.entity_type == entity_type)
    if entity_id:
        query = query.where(AuditLog.entity_id == entity_id)
    if since is not None:
        query = query.where(AuditLog.at >= since)
    if until is not None:
        query = query.where(AuditLog.at < until)
    total = db.session.scalar(db.select(db.func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), total
