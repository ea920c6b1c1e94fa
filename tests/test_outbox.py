"""The outbox dispatcher on real PostgreSQL: DONE, backoff, DEAD, SKIP LOCKED, the sweep,
and a checkout while Redis is down whose mail still arrives once Redis is back."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from datetime import timedelta

import pytest
from rq import SimpleWorker

from shop import create_app, jobs, queue
from shop.checkout import services as checkout
from shop.clock import utcnow
from shop.extensions import db
from shop.handlers import HANDLERS
from shop.orders.models import Order, OrderStatus
from shop.outbox import dispatch
from shop.outbox.models import OutboxEvent, OutboxStatus
from tests import services
from tests.test_orders import _cart, _details, _variant_of

# Test events wait a day, so the session worker's periodic sweep never takes them; the tests
# dispatch them by id or sweep with a clock a week ahead.
LATER = timedelta(days=1)
WEEK_AHEAD = timedelta(days=7)


@pytest.fixture
def calls(monkeypatch):
    """A ``probe`` event type whose handler records the payloads it saw (and can fail)."""
    seen: list[dict] = []
    behaviour: dict = {"fail": False, "sleep": 0.0}

    def probe(event: OutboxEvent) -> None:
        if behaviour["sleep"]:
            time.sleep(behaviour["sleep"])
        # A write of the handler's own: undone when the handler fails.
        db.session.add(OutboxEvent(type="probe_side_effect", payload={}, status="done"))
        if behaviour["fail"]:
            raise RuntimeError("handler broke")
        seen.append(dict(event.payload))

    monkeypatch.setitem(HANDLERS, "probe", probe)
    return seen, behaviour


def _later():
    return utcnow() + LATER


def _event(app, type_: str = "probe", **fields) -> int:
    with app.app_context():
        event = OutboxEvent(type=type_, payload={"n": 1}, next_retry_at=_later(), **fields)
        db.session.add(event)
        db.session.commit()
        return event.id


def _get(app, event_id: int) -> OutboxEvent:
    with app.app_context():
        event = db.session.get(OutboxEvent, event_id)
        db.session.expunge(event)
        return event


def _count(app, type_: str) -> int:
    with app.app_context():
        return db.session.execute(
            db.select(db.func.count()).select_from(OutboxEvent).where(OutboxEvent.type == type_)
        ).scalar()


def test_dispatch_runs_the_handler_once_and_marks_done(app, calls):
    seen, _ = calls
    event_id = _event(app)
    with app.app_context():
        assert dispatch.dispatch(event_id) is True
        assert dispatch.dispatch(event_id) is False  # already delivered
    event = _get(app, event_id)
    assert (event.status, event.attempts, event.last_error) == (OutboxStatus.DONE, 0, None)
    assert event.processed_at is not None
    assert seen == [{"n": 1}]
    assert _count(app, "probe_side_effect") == 1


def test_failures_back_off_exponentially_then_the_event_is_dead(app, calls, monkeypatch):
    seen, behaviour = calls
    behaviour["fail"] = True
    monkeypatch.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 4)
    event_id = _event(app)
    waits = []
    for attempt in (1, 2, 3):
        before = utcnow()
        with app.app_context():
            assert dispatch.dispatch(event_id) is False
        event = _get(app, event_id)
        assert event.status == OutboxStatus.FAILED
        assert event.attempts == attempt
        assert event.last_error == "RuntimeError: handler broke"
        waits.append(round((event.next_retry_at - before).total_seconds()))
    assert waits == [30, 60, 120]
    with app.app_context():
        assert dispatch.dispatch(event_id) is False
    event = _get(app, event_id)
    assert (event.status, event.attempts) == (OutboxStatus.DEAD, 4)
    # Dead events wait for staff: neither dispatch nor the sweep run them again.
    behaviour["fail"] = False
    with app.app_context():
        assert dispatch.dispatch(event_id) is False
        assert dispatch.sweep(now=utcnow() + WEEK_AHEAD) == 0
    assert seen == []
    assert _count(app, "probe_side_effect") == 0  # every failed attempt was rolled back


def test_backoff_is_capped_at_an_hour():
    assert [dispatch.backoff(n).total_seconds() for n in (1, 2, 7, 8, 50)] == [
        30,
        60,
        1920,
        3600,
        3600,
    ]


def test_two_concurrent_dispatches_run_the_handler_once(app, calls):
    seen, behaviour = calls
    behaviour["sleep"] = 1.0
    event_id = _event(app)
    start = threading.Barrier(2)
    outcomes: dict[str, tuple[bool, float]] = {}

    def run(name: str, delay: float) -> None:
        with app.app_context():
            start.wait()
            time.sleep(delay)
            began = time.monotonic()
            try:
                outcomes[name] = (dispatch.dispatch(event_id), time.monotonic() - began)
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=run, args=("first", 0.0)),
        threading.Thread(target=run, args=("second", 0.3)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert outcomes["first"][0] is True
    # The second skipped the locked row at once instead of waiting for the first to finish.
    assert outcomes["second"][0] is False
    assert outcomes["second"][1] < 0.5
    assert seen == [{"n": 1}]
    assert _get(app, event_id).status == OutboxStatus.DONE


def test_sweep_delivers_due_events_whose_enqueue_was_lost(app, calls):
    seen, _ = calls
    lost = _event(app)  # inserted without any job: as if Redis had been down
    failed = _event(app, status=OutboxStatus.FAILED, attempts=2)
    not_due = _event(app)
    with app.app_context():
        db.session.get(OutboxEvent, not_due).next_retry_at = utcnow() + 2 * WEEK_AHEAD
        db.session.commit()
        assert dispatch.sweep(now=utcnow() + WEEK_AHEAD) == 2
    assert _get(app, lost).status == OutboxStatus.DONE
    assert _get(app, failed).status == OutboxStatus.DONE
    assert _get(app, not_due).status == OutboxStatus.PENDING
    assert len(seen) == 2


def test_emit_defers_one_dispatch_job_per_transaction_until_commit(app):
    from shop.outbox.services import emit

    with app.app_context():
        emit("probe", n=2)
        emit("probe", n=3)
        pending = db.session().info[queue._DEFERRED]
        assert pending == [("shop.jobs.dispatch_outbox_events", ())]
        db.session.rollback()
        assert queue._DEFERRED not in db.session().info
    assert _count(app, "probe") == 0


def test_a_burst_of_commits_enqueues_one_waiting_dispatch_job(app, test_env, tmp_path):
    """Coalesced jobs: while a copy waits in Redis, commits enqueue no other; once it has
    started, the next commit enqueues a fresh one (which will see that commit's events)."""
    own_redis = services.start_redis()
    own_app = create_app(
        {
            **test_env,
            "REDIS_URL": own_redis.url,
            "RQ_QUEUE": "coalesce",
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    try:
        with own_app.app_context():
            from shop.outbox.services import emit

            rq_queue = queue.queue(own_app)
            for n in range(5):
                emit("probe", n=n)
                db.session.commit()
            assert [job.func_name for job in rq_queue.jobs] == ["shop.jobs.dispatch_outbox_events"]
            queue.started(jobs.dispatch_outbox_events)  # as the job does when it starts
            emit("probe", n=5)
            db.session.commit()
            assert len(rq_queue.jobs) == 2
    finally:
        from shop.extensions import limiter

        limiter._storage, limiter._limiter = app.extensions["test_limiter_state"]
        own_redis.stop()
        with own_app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_the_sweep_is_a_periodic_job_every_minute():
    assert ("sweep_outbox", jobs.sweep_outbox, 60) in jobs.PERIODIC


# -- Redis stopped during a checkout -------------------------------------------------------


def _redis_on(port: int, directory) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    services.wait_for_port(port, process=process)
    return process


@pytest.fixture
def shop(app):
    from shop.checkout.defaults import load_defaults
    from tests import catalogue_factory

    with app.app_context():
        ids = catalogue_factory.build(4)
        load_defaults()
        db.session.commit()
    return ids


def test_checkout_with_redis_down_commits_and_the_sweep_mails_once_redis_is_back(
    app, shop, test_env, tmp_path, mailbox
):
    own_redis = services.start_redis()
    restarted = None
    own_app = create_app({**test_env, "REDIS_URL": own_redis.url, "INSTANCE_PATH": str(tmp_path)})
    try:
        with own_app.app_context():
            cart_id = _cart(_variant_of(shop["products"][2]))
            checkout.start_checkout(cart_id)
            own_redis.stop()

            order_id = checkout.place_order(cart_id, _details("redis.down@example.com")).id

            db.session.remove()
            placed = db.session.get(Order, order_id)
            assert placed.status == OrderStatus.PENDING_PAYMENT
            [event] = db.session.execute(
                db.select(OutboxEvent).where(OutboxEvent.type == "order_placed")
            ).scalars()
            assert event.status == OutboxStatus.PENDING
            number = placed.number
            db.session.remove()

            restarted = _redis_on(own_redis.port, tmp_path)
            assert jobs.sweep_outbox() == {"events": 1, "documents": 0, "emails": 0}
            worker_queue = queue.queue(own_app)
            SimpleWorker([worker_queue], connection=worker_queue.connection).work(burst=True)
            # Running the sweep and the worker again sends nothing more.
            assert jobs.sweep_outbox() == {"events": 0, "documents": 0, "emails": 0}
            SimpleWorker([worker_queue], connection=worker_queue.connection).work(burst=True)

        [message] = mailbox.wait_for("redis.down@example.com")
        assert number in message["Subject"]
        assert message["Message-ID"] == f"<order_placed.{event.id}@comptoir.example.com>"
        time.sleep(0.5)
        assert len(mailbox.messages("redis.down@example.com")) == 1
    finally:
        from shop.extensions import limiter

        limiter._storage, limiter._limiter = app.extensions["test_limiter_state"]
        own_redis.stop()
        if restarted is not None:
            restarted.terminate()
            restarted.wait(5)
        with own_app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_embedded_default_runs_periodic_jobs_on_a_thread(app, monkeypatch):
    from flask import current_app

    runs: list[str] = []
    ran = threading.Event()

    def probe_job() -> None:
        runs.append(current_app.name)
        ran.set()

    monkeypatch.setattr(jobs, "PERIODIC", (("probe", probe_job, 60),))
    stop = jobs.start_periodic_thread(app, tick=0.05)
    try:
        assert ran.wait(5)
        time.sleep(0.3)  # several ticks, but the interval is a minute: no second run
    finally:
        stop.set()
    assert runs == ["shop"]


# -- the worker killed in the middle of a batch ---------------------------------------------


def _start_worker(env: dict[str, str], log_path) -> subprocess.Popen:
    import os
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    with open(log_path, "a") as log:
        return subprocess.Popen(
            [sys.executable, str(root / "worker.py")],
            env={**os.environ, **env},
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its work horses too, for kill -9 of the whole group
        )


def _kill_group(process: subprocess.Popen) -> None:
    import os
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def test_worker_killed_mid_batch_then_restarted_mails_every_order_once(
    app, shop, test_env, tmp_path, mailbox
):
    from shop.emails import batch
    from shop.emails import services as emails
    from shop.emails.models import EmailMessage
    from shop.inventory import services as inventory

    own_redis = services.start_redis()
    env = {**test_env, "REDIS_URL": own_redis.url, "RQ_QUEUE": "comptoir-kill"}
    own_app = create_app({**env, "INSTANCE_PATH": str(tmp_path)})
    addresses = [f"kill{i}@example.com" for i in range(30)]
    workers: list[subprocess.Popen] = []
    try:
        with own_app.app_context():
            variant_id = _variant_of(shop["products"][3])
            inventory.receive(variant_id, 100, reason="kill test")
            for address in addresses:  # 30 orders: 30 dispatch jobs wait in Redis
                cart_id = _cart(variant_id)
                checkout.start_checkout(cart_id)
                checkout.place_order(cart_id, _details(address))
            db.session.remove()

        def arrived() -> list:
            return [m for m in mailbox.messages() if m["To"] in addresses]

        workers.append(_start_worker(env, tmp_path / "worker.log"))
        deadline = time.monotonic() + 30
        while len(arrived()) < 3:
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.01)
        _kill_group(workers[0])  # kill -9, work horse included, in the middle of the batch
        at_kill = len(arrived())
        assert at_kill < len(addresses)

        # A minute later (its lock expired) the restarted worker's sweep takes the events
        # whose jobs died with the horse; emails whose delivery job was lost go out with the
        # email sweep a few minutes later.
        redis_client = queue.redis_connection(own_app)
        redis_client.delete("comptoir:periodic:sweep_outbox")
        workers.append(_start_worker(env, tmp_path / "worker.log"))
        with own_app.app_context():
            deadline = time.monotonic() + 60
            while db.session.execute(
                db.select(db.func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.status != OutboxStatus.DONE)
            ).scalar():
                assert time.monotonic() < deadline
                time.sleep(0.2)
                db.session.remove()
            emails.retry_due(now=utcnow() + timedelta(minutes=5))
            for address in addresses:
                mailbox.wait_for(address, timeout=30)
            deadline = time.monotonic() + 20
            while db.session.execute(
                db.select(db.func.count())
                .select_from(EmailMessage)
                .where(EmailMessage.status != "sent")
            ).scalar():
                assert time.monotonic() < deadline
                time.sleep(0.2)
                db.session.remove()
            queued = db.session.execute(db.select(EmailMessage.to_address)).scalars().all()
        assert sorted(queued) == sorted(addresses)  # one email per event, never two
        time.sleep(0.5)
        copies = {a: [m["Message-ID"] for m in mailbox.messages(a)] for a in addresses}
        assert all(len(set(ids)) == 1 for ids in copies.values()), copies
        # SMTP is at least once: only the messages in flight at the kill (accepted by the
        # server, not yet recorded as sent; one per SMTP session of the batch) may arrive
        # twice, with the same Message-ID.
        assert sum(len(ids) - 1 for ids in copies.values()) <= batch.DEFAULT_SENDERS, copies
    finally:
        from shop.extensions import limiter

        limiter._storage, limiter._limiter = app.extensions["test_limiter_state"]
        for worker in workers:
            _kill_group(worker)
        own_redis.stop()
        with own_app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_an_event_about_an_order_carries_its_id_in_an_indexed_column(app):
    from shop.backoffice.orders import order_events
    from shop.outbox.services import emit

    with app.app_context():
        emit("order_paid", order_id=41)
        emit("order_shipped", order_id=42, shipment_id=3)
        emit("user_registered", user_id=41)
        db.session.commit()

        rows = db.session.execute(
            db.select(OutboxEvent.type, OutboxEvent.order_id).order_by(OutboxEvent.id)
        ).all()
        assert [tuple(r) for r in rows] == [
            ("order_paid", 41),
            ("order_shipped", 42),
            ("user_registered", None),
        ]
        assert [e.type for e in order_events(41)] == ["order_paid"]


def test_a_batch_commits_together_but_a_failing_handler_undoes_only_its_own_writes(
    app, calls, monkeypatch
):
    seen, _ = calls

    def picky(event: OutboxEvent) -> None:
        db.session.add(OutboxEvent(type="probe_side_effect", payload={}, status="done"))
        if event.payload["n"] == 2:
            raise RuntimeError("not this one")
        seen.append(dict(event.payload))

    monkeypatch.setitem(HANDLERS, "probe", picky)
    monkeypatch.setitem(app.config, "OUTBOX_CLAIM_BATCH", 2)  # two batches: [1, 2], [3]
    ids = []
    with app.app_context():
        for n in (1, 2, 3):
            event = OutboxEvent(type="probe", payload={"n": n})
            db.session.add(event)
            db.session.flush()
            ids.append(event.id)
        db.session.commit()

        assert dispatch.sweep() == 2

    statuses = [(_get(app, i).status, _get(app, i).last_error) for i in ids]
    assert statuses == [
        (OutboxStatus.DONE, None),
        (OutboxStatus.FAILED, "RuntimeError: not this one"),
        (OutboxStatus.DONE, None),
    ]
    assert seen == [{"n": 1}, {"n": 3}]
    assert _count(app, "probe_side_effect") == 2  # the failing handler's write was undone
