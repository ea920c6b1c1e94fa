"""Background jobs: enqueued only after the transaction that asked for them commits.

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

import contextlib
import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
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
_worker_app: Flask | None = None


# -- deferring until commit -------------------------------------------------------------


def defer(func: Callable[..., Any], *args: Any) -> None:
    """Run ``func(*args)`` as a job once the current transaction commits (once per
    transaction for the same function and arguments)."""
    pending = db.session().info.setdefault(_DEFERRED, [])
    if (func, args) not in pending:
        pending.append((func, args))


def coalesced(func: Callable[[], Any]) -> Callable[[], Any]:
    """Mark a job that does all the work waiting when it starts: one waiting copy is enough.
    The job must call ``started(itself)`` first thing, before it looks for work."""
    func.comptoir_coalesced = True  # type: ignore[attr-defined]
    return func


def _coalesced(func: Callable[..., Any]) -> bool:
    return bool(getattr(func, "comptoir_coalesced", False))


def _waiting_key(func: Callable[..., Any]) -> str:
    return f"comptoir:waiting:{func.__name__}"


def started(func: Callable[..., Any]) -> None:
    """A coalesced job has started: the next commit needing it enqueues a new copy (which
    then finds whatever this one missed)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    app.extensions.setdefault("comptoir_waiting", set()).discard(func.__name__)
    connection = redis_connection(app)
    if connection is not None:
        try:
            connection.delete(_waiting_key(func))
        except redis.RedisError as error:
            log.warning("coalesced job key not cleared", extra={"error": str(error)})


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(_DEFERRED, None)
    if pending and has_app_context():
        for func, args in pending:
            enqueue(func, *args)


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


def enqueue(func: Callable[..., Any], *args: Any) -> Future[Any] | None:
    """Send a job to RQ, or run it in-process when Redis is not configured.

    If Redis is configured but down, the job is logged and dropped: the work it
    stands for is still in the database and a sweep picks it up later.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    rq_queue = queue(app)
    if rq_queue is None:
        if _coalesced(func):
            waiting = app.extensions.setdefault("comptoir_waiting", set())
            if func.__name__ in waiting:
                return None
            waiting.add(func.__name__)
        return _runner(app).submit(_run_in_app, app, func, args)
    try:
        if _coalesced(func) and not rq_queue.connection.set(
            _waiting_key(func), "1", nx=True, ex=COALESCED_KEY_SECONDS
        ):
            return None  # a copy is waiting: it will see this transaction's work
        rq_queue.enqueue(func, *args)
    except redis.RedisError as error:
        log.warning("enqueue failed", extra={"job": func.__name__, "error": str(error)})
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


def _run_in_app(app: Flask, func: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    with app.app_context():
        try:
            return func(*args)
        except Exception:
            log.exception("in-process job failed", extra={"job": func.__name__})
            raise


def wait_for_inprocess_jobs(app: Flask) -> None:
    """Block until the in-process jobs have all run, those they enqueued included (for the
    CLI and tests)."""
    runner = app.extensions.get("comptoir_jobs")
    if runner is not None:
        runner.wait()


# -- worker side -----------------------------------------------------------------------


def use_worker_app(app: Flask) -> None:
    """Called by worker.py: jobs run in this app, built once before forking."""
    global _worker_app
    _worker_app = app
    with app.app_context():
        engine = db.engine
    # A forked work horse must not reuse the parent's database connections.
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    preload(app)


def preload(app: Flask) -> None:
    """Load what the jobs use before the worker forks: every work horse starts with it
    (sharing those pages with the worker) instead of importing modules, loading fonts and
    parsing the invoice stylesheet again for each job.

    Then every object so far is frozen out of the garbage collector: a horse's collections
    would otherwise walk them all and write to every page they sit on, copying the worker's
    whole heap into each horse."""
    import shop.emails.batch
    import shop.invoices.attachments
    import shop.outbox.dispatch
    import shop.outbox.handlers  # noqa: F401
    from shop.invoices import pdf

    with app.app_context():
        pdf.warm_up()
        pdf.warm_up_layout()
    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def job_context() -> Iterator[None]:
    global _worker_app
    if has_app_context():
        yield
        return
    if _worker_app is None:
        from shop import create_app

        _worker_app = create_app()
    with _worker_app.app_context():
        yield


# -- the jobs --------------------------------------------------------------------------


def deliver_email(email_id: int) -> bool:
    from shop.emails import services

    with job_context():
        return services.deliver(email_id)


@coalesced
def deliver_emails() -> int:
    """Send every email queued and never tried yet, over one SMTP session."""
    from shop.emails import batch

    with job_context():
        started(deliver_emails)
        sent, out_of_time = batch.deliver_pending(seconds=COALESCED_JOB_SECONDS)
        if out_of_time:  # leave the worker to other jobs for a while
            enqueue(deliver_emails)
        return sent


def dispatch_outbox_event(event_id: int) -> bool:
    from shop.outbox import dispatch

    with job_context():
        return dispatch.dispatch(event_id)


@coalesced
def dispatch_outbox_events() -> int:
    """Deliver every due outbox event (those just committed, and retries whose time came)."""
    from shop.outbox import dispatch

    with job_context():
        started(dispatch_outbox_events)
        handled, deadline = 0, time.monotonic() + COALESCED_JOB_SECONDS
        while more := dispatch.sweep():
            handled += more
            if time.monotonic() > deadline:  # leave the worker to other jobs for a while
                enqueue(dispatch_outbox_events)
                break
        return handled


def sweep_outbox() -> dict[str, int]:
    """Periodic: deliver outbox events whose job was lost or whose retry is due, then retry
    emails whose SMTP delivery failed (every minute)."""
    from shop.emails import services as emails
    from shop.outbox import dispatch

    with job_context():
        return {"events": dispatch.sweep(), "emails": emails.retry_due()}


def render_image_renditions(image_id: int) -> dict[str, dict[str, str]]:
    from shop.catalogue import images

    with job_context():
        return images.render_renditions(image_id)


def expire_reservations() -> int:
    """Periodic: give back stock holds past their time (every minute)."""
    from shop.inventory import services

    with job_context():
        return services.release_expired()


def recover_abandoned_carts() -> dict[str, int]:
    """Periodic: mark idle carts ABANDONED, then queue the reminders due (every 10 minutes)."""
    from shop.recovery import services

    with job_context():
        return {"abandoned": services.detect_abandoned(), "reminders": services.send_due_steps()}


# -- periodic jobs (RQ) ----------------------------------------------------------------
# Each periodic job is enqueued at most once per interval across every worker: the first
# process to SET the job's lock key (NX, expiring after the interval) enqueues it.

PERIODIC: tuple[tuple[str, Callable[[], Any], int], ...] = (
    ("expire_reservations", expire_reservations, 60),
    ("sweep_outbox", sweep_outbox, 60),
    ("recover_abandoned_carts", recover_abandoned_carts, 600),
)


def enqueue_due_periodic_jobs(app: Flask) -> list[str]:
    """One scheduler tick: enqueue the periodic jobs whose interval has come round."""
    rq_queue = queue(app)
    if rq_queue is None:
        return []
    enqueued = []
    for name, func, interval in PERIODIC:
        try:
            if rq_queue.connection.set(f"comptoir:periodic:{name}", "1", nx=True, ex=interval):
                rq_queue.enqueue(func)
                enqueued.append(name)
        except redis.RedisError as error:
            log.warning("periodic job not enqueued", extra={"job": name, "error": str(error)})
    return enqueued


def start_periodic_thread(app: Flask, tick: float = 5.0) -> threading.Event:
    """Embedded default (no ``REDIS_URL``): run the periodic jobs on a daemon thread of this
    process, each at its interval, the first time at once. Set the returned event to stop.

    One process only (the dev server), so no lock is needed; with Redis, worker.py ticks.
    """
    stop = threading.Event()
    next_run = {name: 0.0 for name, _, _ in PERIODIC}

    def loop() -> None:
        while not stop.is_set():
            for name, func, interval in PERIODIC:
                if stop.is_set() or time.monotonic() < next_run[name]:
                    continue
                next_run[name] = time.monotonic() + interval
                with contextlib.suppress(Exception):  # logged by _run_in_app; try next time
                    _run_in_app(app, func, ())
            stop.wait(tick)

    threading.Thread(target=loop, name="comptoir-periodic", daemon=True).start()
    return stop
