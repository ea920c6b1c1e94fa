"""Delivering outbox events: at least once, one worker per event, with exponential backoff.

An event is claimed with ``SELECT ... FOR UPDATE SKIP LOCKED``: a second worker (the job
deferred after the commit and the periodic sweep may race) skips it instead of waiting.
The handler runs inside the claiming transaction, in a savepoint, so the rows it writes (a
queued email) and the event's DONE commit together, and a failure undoes the handler's
writes while the attempt, the error and the next retry time are still recorded. Handlers are
idempotent anyway (emails are deduplicated by a Message-ID derived from the event id), so a
crash between a handler's side effect outside the database and the commit is harmless.

The sweep claims up to ``OUTBOX_CLAIM_BATCH`` (default 25) due events at once and commits
them together: each handler still runs in its own savepoint (a failure undoes that event's
writes only and is recorded on it), but the batch shares one transaction and one claim, a
third of the round trips of an event per transaction. A crash before that commit leaves the
whole batch to be handled again, which handlers allow. The rows a handler locks (the order
it reads, the invoice sequence) stay locked until the batch commits: a few milliseconds per
event.

Lock waits inside a delivery are cut at ``OUTBOX_LOCK_TIMEOUT_MS`` (default 500 ms).

Backoff: after the n-th failed attempt the event waits ``30 s × 2^(n-1)``, at most one hour;
after ``OUTBOX_MAX_ATTEMPTS`` (default 8) failures it is DEAD and waits for staff.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, text

from shop import sql
from shop.clock import utcnow
from shop.extensions import db
from shop.outbox.models import OutboxEvent, OutboxStatus

log = logging.getLogger("shop.outbox")

BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 3600
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_SWEEP_BATCH = 200
DEFAULT_CLAIM_BATCH = 25
DEFAULT_LOCK_TIMEOUT_MS = 500
_UNDELIVERED = (OutboxStatus.PENDING, OutboxStatus.FAILED)
# The handlers use the domain, which sits above this foundation: they are found by name.
HANDLERS_MODULE = "shop.handlers"


def handlers() -> dict[str, Callable[[OutboxEvent], None]]:
    """``{event type: handler}`` from ``HANDLERS_MODULE`` (imported on first use)."""
    return importlib.import_module(HANDLERS_MODULE).HANDLERS


def backoff(attempts: int) -> timedelta:
    """How long an event waits after its ``attempts``-th failure."""
    exponent = min(max(attempts - 1, 0), 20)
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2**exponent, BACKOFF_CAP_SECONDS))


def max_attempts() -> int:
    return int(current_app.config.get("OUTBOX_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))


def _claim(*where: ColumnElement[bool], limit: int = 1) -> list[OutboxEvent]:
    """Lock the first ``limit`` undelivered events matching ``where`` (oldest first),
    skipping events others hold.

    On PostgreSQL the transaction also gets a short ``lock_timeout``: delivery gives way to a
    migration or a TRUNCATE instead of queueing behind it (or deadlocking with it), and the
    event is retried later. On SQLite (the embedded default, no row locks) it takes the
    database's write lock up front (``BEGIN IMMEDIATE``, waiting up to the busy timeout):
    a transaction that has read first cannot take it once another connection has written
    since, and would fail at once with "database is locked".
    """
    dialect = sql.dialect()
    if dialect == sql.POSTGRESQL:
        timeout = int(current_app.config.get("OUTBOX_LOCK_TIMEOUT_MS", DEFAULT_LOCK_TIMEOUT_MS))
        db.session.execute(text(f"SET LOCAL lock_timeout = {timeout}"))
    elif dialect == sql.SQLITE:
        connection = db.session.connection().connection.dbapi_connection
        if connection is not None and not connection.in_transaction:
            connection.execute("BEGIN IMMEDIATE")
    return list(
        db.session.execute(
            db.select(OutboxEvent)
            .where(OutboxEvent.status.in_(_UNDELIVERED), *where)
            .order_by(OutboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).scalars()
    )


def dispatch(event_id: int) -> bool:
    """Deliver one event now, whatever its retry time. Returns whether this call handled it.

    False when the event is already delivered, dead, gone, failed again, or being delivered
    by another worker right now.
    """
    claimed = _claim(OutboxEvent.id == event_id)
    if not claimed:
        db.session.rollback()
        return False
    handled = _run(claimed[0])
    db.session.commit()
    return handled


def sweep(batch: int | None = None, now: datetime | None = None) -> int:
    """Deliver due PENDING and FAILED events (lost enqueues, retries), at most ``batch``;
    returns how many were handled. Events are claimed and committed in groups (see the
    module's docstring)."""
    batch = batch or int(current_app.config.get("OUTBOX_SWEEP_BATCH", DEFAULT_SWEEP_BATCH))
    claim = int(current_app.config.get("OUTBOX_CLAIM_BATCH", DEFAULT_CLAIM_BATCH))
    now = now or utcnow()
    handled, seen = 0, 0
    while seen < batch:
        events = _claim(OutboxEvent.next_retry_at <= now, limit=min(claim, batch - seen))
        if not events:
            db.session.rollback()
            break
        seen += len(events)
        handled += sum(_run(event) for event in events)
        db.session.commit()
    return handled


def _run(event: OutboxEvent) -> bool:
    """Handle one claimed event in a savepoint and record the outcome on it; the caller
    commits."""
    handler = handlers().get(event.type)
    if handler is None:
        log.warning("no handler for outbox event", extra={"event": event.id, "type": event.type})
        _finish(event)
        return True
    try:
        with db.session.begin_nested():
            handler(event)
    # A handler may fail in any way (database, template, SMTP, a bug): every failure is
    # recorded on the event and retried later; none may stop the worker or the sweep.
    except Exception as error:
        _failed(event, error)
        return False
    _finish(event)
    return True


def _finish(event: OutboxEvent) -> None:
    event.status = OutboxStatus.DONE
    event.processed_at = utcnow()
    event.last_error = None


def _failed(event: OutboxEvent, error: Exception) -> None:
    event.attempts += 1
    event.last_error = f"{type(error).__name__}: {error}"[:2000]
    if event.attempts >= max_attempts():
        event.status = OutboxStatus.DEAD
        event.processed_at = utcnow()
        log.error(
            "outbox event is dead",
            extra={"event": event.id, "type": event.type, "error": event.last_error},
        )
    else:
        event.status = OutboxStatus.FAILED
        event.next_retry_at = utcnow() + backoff(event.attempts)
        log.warning(
            "outbox event failed",
            extra={"event": event.id, "type": event.type, "attempts": event.attempts},
        )
