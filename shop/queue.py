"""The job queue: deferred until the transaction that asked for a job commits.

A foundation: it imports no domain package. Jobs are named by their dotted path
(``"shop.jobs.deliver_emails"``), so the code that asks for one never imports the module
that holds it (the job bodies sit on the top floor and import the domain).

With ``REDIS_URL`` set, jobs go to RQ and ``worker.py`` runs them. Without it (the
embedded default) they run in-process, one at a time, on a background thread.
Job functions take ids, build their own app context, and are safe to run twice.

Some jobs are *coalesced* (``@coalesced``): they take no arguments and do all the work
waiting when they start (send every queued email, dispatch every due outbox event), so one
waiting copy is enough. A commit enqueues one only if no copy is waiting yet (a Redis key
set with NX, cleared when the copy starts): a thousand emails queued in a burst cost one or
two jobs, one fork, one database connection and one SMTP session, not a thousand.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import redis
from flask import Flask, current_app, has_app_context
from rq import Queue
from sqlalchemy import event
from sqlalchemy.orm import Session

from shop.extensions import db

log = logging.getLogger("shop.jobs")
_DEFERRED = "comptoir_deferred_jobs"
COALESCED_KEY_SECONDS = 30  # a lost copy (Redis flushed) blocks new ones this long at most
COALESCED_JOB_SECONDS = 60  # then a coalesced job hands over to a fresh copy of itself

Job = str | Callable[..., Any]  # a dotted name, or the job function itself (job modules)


def job_name(job: Job) -> str:
    if isinstance(job, str):
        return job
    return f"{job.__module__}.{job.__qualname__}"


def resolve(name: str) -> Callable[..., Any]:
    """The job function a dotted name stands for (imported on first use)."""
    module, _, attribute = name.rpartition(".")
    if not module.startswith("shop."):
        raise ValueError(f"not a job of this project: {name}")
    return getattr(importlib.import_module(module), attribute)


# -- deferring until commit -------------------------------------------------------------


def defer(job: Job, *args: Any) -> None:
    """Run the job named ``job`` with ``args`` once the current transaction commits (once
    per transaction for the same job and arguments)."""
    pending = db.session().info.setdefault(_DEFERRED, [])
    entry = (job_name(job), args)
    if entry not in pending:
        pending.append(entry)


def coalesced(func: Callable[[], Any]) -> Callable[[], Any]:
    """Mark a job that does all the work waiting when it starts: one waiting copy is enough.
    The job must call ``started(itself)`` first thing, before it looks for work."""
    func.comptoir_coalesced = True  # type: ignore[attr-defined]
    return func


def _coalesced(func: Callable[..., Any]) -> bool:
    return bool(getattr(func, "comptoir_coalesced", False))


def _waiting_key(name: str) -> str:
    return f"comptoir:waiting:{name.rpartition('.')[2]}"


def started(job: Job) -> None:
    """A coalesced job has started: the next commit needing it enqueues a new copy (which
    then finds whatever this one missed)."""
    name = job_name(job)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    app.extensions.setdefault("comptoir_waiting", set()).discard(name)
    connection = redis_connection(app)
    if connection is not None:
        try:
            connection.delete(_waiting_key(name))
        except redis.RedisError as error:
            log.warning("coalesced job key not cleared", extra={"error": str(error)})


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(_DEFERRED, None)
    if pending and has_app_context():
        for name, args in pending:
            enqueue(name, *args)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_DEFERRED, None)


def redis_connection(app: Flask | None = None) -> redis.Redis | None:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    connection = app.extensions.get("comptoir_redis")
    if connection is None:
        connection = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=3)
        app.extensions["comptoir_redis"] = connection
    return connection


def queue(app: Flask | None = None) -> Queue | None:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    connection = redis_connection(app)
    if connection is None:
        return None
    return Queue(app.config["RQ_QUEUE"], connection=connection)


def enqueue(job: Job, *args: Any) -> Future[Any] | None:
    """Send a job to RQ, or run it in-process when Redis is not configured.

    If Redis is configured but down, the job is logged and dropped: the work it
    stands for is still in the database and a sweep picks it up later.
    """
    name = job_name(job)
    func = resolve(name)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    rq_queue = queue(app)
    if rq_queue is None:
        if _coalesced(func):
            waiting = app.extensions.setdefault("comptoir_waiting", set())
            if name in waiting:
                return None
            waiting.add(name)
        return _runner(app).submit(run_in_app, app, func, args)
    try:
        if _coalesced(func) and not rq_queue.connection.set(
            _waiting_key(name), "1", nx=True, ex=COALESCED_KEY_SECONDS
        ):
            return None  # a copy is waiting: it will see this transaction's work
        rq_queue.enqueue(name, *args)
    except redis.RedisError as error:
        log.warning("enqueue failed", extra={"job": name, "error": str(error)})
    return None


# -- in-process runner -----------------------------------------------------------------


class _Runner:
    """One background thread running jobs in order, counting those not finished yet (a job
    enqueued by a running job is counted before that one ends)."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="comptoir-job")
        self._unfinished = 0
        self._idle = threading.Condition()

    def submit(self, func: Callable[..., Any], *args: Any) -> Future[Any]:
        with self._idle:
            self._unfinished += 1
        future = self._executor.submit(func, *args)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: Future[Any]) -> None:
        with self._idle:
            self._unfinished -= 1
            self._idle.notify_all()

    def wait(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._unfinished == 0)


def _runner(app: Flask) -> _Runner:
    runner = app.extensions.get("comptoir_jobs")
    if runner is None:
        runner = app.extensions.setdefault("comptoir_jobs", _Runner())
    return runner


def run_in_app(app: Flask, func: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """Run a job function inside ``app``'s context, logging a failure before raising it."""
    with app.app_context():
        try:
            return func(*args)
        except Exception:
            log.exception("in-process job failed", extra={"job": job_name(func)})
            raise


def wait_for_inprocess_jobs(app: Flask) -> None:
    """Block until the in-process jobs have all run, those they enqueued included (for the
    CLI and tests)."""
    runner = app.extensions.get("comptoir_jobs")
    if runner is not None:
        runner.wait()


def dispose_engine_after_fork(app: Flask) -> None:
    """A forked RQ work horse must not reuse the parent's database connections."""
    with app.app_context():
        engine = db.engine
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
