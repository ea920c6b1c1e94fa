"""The job bodies and the periodic schedule: the top floor of background work.

Each job is named by its dotted path (``"shop.jobs.deliver_emails"``) where the domain asks
for it (``shop.queue.defer``), so no domain module imports this one; this one imports the
domain. Jobs take ids, build their own app context and are safe to run twice. The queue
itself (deferring until commit, coalesced jobs, RQ or the in-process runner, Redis) is
``shop.queue``, a foundation.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
from flask import Flask, has_app_context

from shop.queue import (
    COALESCED_JOB_SECONDS,
    coalesced,
    dispose_engine_after_fork,
    enqueue,
    job_name,
    queue,
    run_in_app,
    started,
)

log = logging.getLogger("shop.jobs")
_worker_app: Flask | None = None


# -- worker side -----------------------------------------------------------------------


def use_worker_app(app: Flask) -> None:
    """Called by worker.py: jobs run in this app, built once before forking."""
    global _worker_app
    _worker_app = app
    dispose_engine_after_fork(app)
    preload(app)


def preload(app: Flask) -> None:
    """Load what the jobs use before the worker forks: every work horse starts with it
    (sharing those pages with the worker) instead of importing modules, loading fonts and
    parsing the invoice stylesheet again for each job.

    Then every object so far is frozen out of the garbage collector: a horse's collections
    would otherwise walk them all and write to every page they sit on, copying the worker's
    whole heap into each horse."""
    import shop.emails.batch
    import shop.handlers
    import shop.outbox.dispatch  # noqa: F401
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
    """Periodic: deliver outbox events whose job was lost or whose retry is due, render the
    documents whose job was lost, then retry emails whose SMTP delivery failed or whose
    document was waiting (every minute)."""
    from shop.emails import services as emails
    from shop.invoices import pdf
    from shop.outbox import dispatch

    with job_context():
        events = dispatch.sweep()
        documents = pdf.render_pending()
        return {"events": events, "documents": documents, "emails": emails.retry_due()}


@coalesced
def render_pending_documents() -> int:
    """Render the PDF of every invoice and credit note issued without one (deferred by the
    outbox handler that issued it), then send the mails that were waiting for them."""
    from shop.invoices import pdf

    with job_context():
        started(render_pending_documents)
        rendered = pdf.render_pending()
        if rendered:
            enqueue(deliver_emails)
        return rendered


def render_document(invoice_id: int, locale: str) -> str:
    """Render one document in ``locale`` (a courtesy copy asked for by a download, or a file
    lost from disk); returns its path."""
    from shop.invoices import pdf

    with job_context():
        return str(pdf.render_pdf(invoice_id, locale))


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
                rq_queue.enqueue(job_name(func))
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
                    run_in_app(app, func, ())
            stop.wait(tick)

    threading.Thread(target=loop, name="comptoir-periodic", daemon=True).start()
    return stop
