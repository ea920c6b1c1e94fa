"""Emails per second through the real worker to a real SMTP server, and the worker's memory.

    .venv/bin/python bench/emails.py [--emails 2000 --events 500 --invoices 40]

Starts a throwaway PostgreSQL and redis-server (``tests/services.py``), an aiosmtpd server
in this process (it only counts messages and their Message-IDs), migrates, and runs a real
``python worker.py`` (its output in ``<instance>/worker.log``). Then, one after the other:

- **emails**: ``--emails`` welcome mails queued with ``queue_email`` in one transaction;
  timed from its commit until the SMTP server has received the last one;
- **events**: ``--events`` ``user_registered`` outbox events committed in one transaction
  (users inserted beforehand with a fixed hash); timed from the commit to the last welcome
  mail received: dispatch, render, queue, deliver;
- **invoices**: ``--invoices`` bank-transfer orders placed (their confirmation mails sent
  first, untimed), then marked paid one by one; timed from the first payment to the last
  "payment received" mail received, each carrying its invoice PDF issued and rendered by
  the worker.

Checks after each phase: every message arrived exactly once (distinct Message-IDs, no
copy) and every ``email_outbox`` row is SENT.

Memory: every 50 ms, ``/proc`` gives the worker's RSS and, for each child process (RQ forks
a work horse per job), its RSS and its private memory (USS: ``Private_Clean`` +
``Private_Dirty`` of ``smaps_rollup``; a horse's RSS counts the pages it still shares with
the worker after the fork). Reported per phase: the worker's RSS at the end (steady state)
and its maximum, the peak RSS and peak USS of a horse, and how many horses were seen.

Prints one JSON object on its last line of stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import services  # noqa: E402

SECRET_KEY = "comptoir-bench-secret-key-not-for-production"
TARGET_PER_SECOND = 200
MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*((?:.|\r?\n[ \t])+?)\r?\n(?![ \t])", re.I | re.M)


def log(message: str) -> None:
    print(f"bench emails: {message}", file=sys.stderr, flush=True)


# -- the SMTP server -----------------------------------------------------------------------


class Sink:
    """aiosmtpd handler: counts messages per recipient and per Message-ID, with arrival times."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.ids: Counter[str] = Counter()
        self.recipients: Counter[str] = Counter()
        self.last_at = 0.0

    async def handle_DATA(self, server, session, envelope):
        match = MESSAGE_ID.search(envelope.content)
        message_id = re.sub(rb"\s+", b"", match.group(1)).decode() if match else "?"
        with self.lock:
            self.ids[message_id] += 1
            for rcpt in envelope.rcpt_tos:
                self.recipients[rcpt] += 1
            self.last_at = time.perf_counter()
            self.lock.notify_all()
        return "250 Message accepted for delivery"

    def received(self, prefix: str) -> int:
        with self.lock:
            return sum(n for rcpt, n in self.recipients.items() if rcpt.startswith(prefix))

    def wait_for(self, prefix: str, count: int, timeout: float) -> float:
        """Block until ``count`` messages to ``prefix*`` arrived; returns the last arrival."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.received_locked(prefix) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{self.received_locked(prefix)} of {count} messages to {prefix}* "
                        f"within {timeout:.0f}s"
                    )
                self.lock.wait(min(remaining, 1.0))
            return self.last_at

    def received_locked(self, prefix: str) -> int:
        return sum(n for rcpt, n in self.recipients.items() if rcpt.startswith(prefix))

    def copies(self) -> int:
        with self.lock:
            return sum(n - 1 for n in self.ids.values() if n > 1)


# -- memory --------------------------------------------------------------------------------


def _kib(path: str, field: str) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    return None


def _uss(pid: int) -> int | None:
    clean = _kib(f"/proc/{pid}/smaps_rollup", "Private_Clean:")
    dirty = _kib(f"/proc/{pid}/smaps_rollup", "Private_Dirty:")
    return None if clean is None or dirty is None else clean + dirty


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found


class MemorySampler:
    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.phase: dict | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @contextlib.contextmanager
    def measuring(self) -> Iterator[dict]:
        phase = {"worker_rss": [], "horse_rss": 0, "horse_uss": 0, "horses": set()}
        self.phase = phase
        try:
            yield phase
        finally:
            self.phase = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            phase = self.phase
            if phase is None:
                continue
            rss = _kib(f"/proc/{self.pid}/status", "VmRSS:")
            if rss is not None:
                phase["worker_rss"].append(rss)
            for child in _children(self.pid):
                phase["horses"].add(child)
                phase["horse_rss"] = max(
                    phase["horse_rss"], _kib(f"/proc/{child}/status", "VmRSS:") or 0
                )
                phase["horse_uss"] = max(phase["horse_uss"], _uss(child) or 0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, with_children: bool = True) -> float:
    """CPU time of a process, plus its reaped children's and its live children's."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])
    total = ticks / _TICK
    if with_children:
        total += sum(cpu_seconds(child) for child in _children(pid))
    return total


def postmaster_pid(port: int) -> int | None:
    """The PostgreSQL server listening on ``port`` (``postgres -D ... -p PORT``)."""
    wanted = [b"-p", str(port).encode()]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            pairs = [argv[i : i + 2] for i in range(len(argv) - 1)]
            if argv[0].endswith(b"/postgres") and wanted in pairs:
                return int(entry.name)
    return None


class CpuMeter:
    """CPU seconds used by the worker (with its work horses), PostgreSQL (every backend)
    and this process (the SMTP server's thread) between ``start`` and ``stop``."""

    def __init__(self, worker_pid: int, postgres_pid: int | None) -> None:
        self.pids = {"worker": worker_pid, "postgres": postgres_pid}

    def _now(self) -> dict[str, float]:
        now = {name: cpu_seconds(pid) if pid else 0.0 for name, pid in self.pids.items()}
        now["bench"] = time.process_time()
        return now

    def start(self) -> None:
        self.began = self._now()

    def stop(self, messages: int) -> dict[str, float]:
        ended = self._now()
        return {
            f"cpu_ms_per_message_{name}": round(
                (ended[name] - self.began[name]) * 1000 / messages, 2
            )
            for name in ended
        }


def memory_summary(phase: dict) -> dict[str, float | int]:
    rss = phase["worker_rss"] or [0]
    return {
        "worker_rss_mib_end": round(rss[-1] / 1024, 1),
        "worker_rss_mib_max": round(max(rss) / 1024, 1),
        "horse_rss_mib_peak": round(phase["horse_rss"] / 1024, 1),
        "horse_uss_mib_peak": round(phase["horse_uss"] / 1024, 1),
        "horses_seen": len(phase["horses"]),
    }


# -- the worker ----------------------------------------------------------------------------


def start_worker(env: dict[str, str], log_path: Path, app) -> subprocess.Popen:
    from rq import Worker

    from shop.queue import redis_connection

    with open(log_path, "a") as output:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "worker.py")],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    connection = redis_connection(app)
    deadline = time.monotonic() + 60
    while not any(w.pid == process.pid for w in Worker.all(connection=connection)):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("worker did not start: " + log_path.read_text())
        time.sleep(0.1)
    return process


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


# -- phases --------------------------------------------------------------------------------


def _check_all_sent(expected: int) -> int:
    from shop.emails.models import EmailMessage, EmailStatus
    from shop.extensions import db

    deadline = time.monotonic() + 30
    while True:
        db.session.remove()
        sent = db.session.execute(
            db.select(db.func.count())
            .select_from(EmailMessage)
            .where(EmailMessage.status == EmailStatus.SENT)
        ).scalar_one()
        if sent >= expected or time.monotonic() > deadline:
            return sent
        time.sleep(0.1)


def timed(
    name: str,
    sink: Sink,
    sampler: MemorySampler,
    meter: CpuMeter,
    prefix: str,
    count: int,
    start: Callable[[], float],
    sent_before: int,
    already: int = 0,
) -> dict[str, object]:
    """Run ``start`` (returns when the clock started) and wait for ``count`` more messages
    to ``prefix*`` (``already`` arrived before)."""
    log(f"{name}: {count} messages")
    with sampler.measuring() as phase:
        began = start()
        last = sink.wait_for(prefix, already + count, timeout=max(120, count))
        time.sleep(0.3)  # a late duplicate would show up here
    cpu = meter.stop(count)
    seconds = last - began
    sent = _check_all_sent(sent_before + count)
    result = {
        "messages": count,
        "seconds": round(seconds, 2),
        "per_second": round(count / seconds, 1),
        "received": sink.received(prefix) - already,
        "duplicates": sink.copies(),
        "rows_sent": sent - sent_before,
        **cpu,
        **memory_summary(phase),
    }
    log(f"{name}: {result}")
    return result


def phase_emails(
    sink: Sink, sampler: MemorySampler, meter: CpuMeter, count: int, sent_before: int
) -> dict:
    from shop.emails.services import queue_email
    from shop.extensions import db

    def start() -> float:
        for i in range(count):
            queue_email("welcome", f"mail{i}@bench.example.com", "fr" if i % 2 else "en")
        db.session.flush()
        meter.start()
        began = time.perf_counter()
        db.session.commit()  # the delivery jobs are enqueued by this commit
        return began

    return timed("emails", sink, sampler, meter, "mail", count, start, sent_before)


def phase_events(
    sink: Sink, sampler: MemorySampler, meter: CpuMeter, count: int, sent_before: int
) -> dict:
    from shop.accounts.models import User
    from shop.accounts.passwords import hash_password
    from shop.extensions import db
    from shop.outbox.services import emit

    password_hash = hash_password("bench password, never used")
    users = [
        User(email=f"event{i}@bench.example.com", password_hash=password_hash, locale="fr")
        for i in range(count)
    ]
    db.session.add_all(users)
    db.session.commit()
    ids = [user.id for user in users]

    def start() -> float:
        for user_id in ids:
            emit("user_registered", user_id=user_id)
        db.session.flush()
        meter.start()
        began = time.perf_counter()
        db.session.commit()
        return began

    return timed("events", sink, sampler, meter, "event", count, start, sent_before)


def phase_invoices(
    sink: Sink, sampler: MemorySampler, meter: CpuMeter, count: int, sent_before: int
) -> dict:
    from shop.cart.models import Cart, CartItem
    from shop.catalogue.models import Product, ProductStatus, ProductVariant
    from shop.checkout import services as checkout
    from shop.checkout.defaults import load_defaults
    from shop.checkout.services import CheckoutDetails
    from shop.extensions import db
    from shop.inventory.services import receive
    from shop.invoices import services as invoices
    from shop.orders import services as orders
    from tests import catalogue_factory
    from tests.test_orders import ADDRESS

    catalogue_factory.build(12)
    load_defaults()
    invoices.load_demo_identity()
    db.session.commit()
    variants = list(
        db.session.execute(
            db.select(ProductVariant.id)
            .join(Product, Product.id == ProductVariant.product_id)
            .where(Product.status == ProductStatus.ACTIVE)
        ).scalars()
    )
    for variant_id in variants:
        receive(variant_id, 10 * count, reason="bench emails")
    order_ids = []
    for i in range(count):
        cart = Cart(token=secrets.token_urlsafe(16), locale="fr")
        cart.items = [
            CartItem(variant_id=v, quantity=1 + (i + n) % 3, unit_price=0)
            for n, v in enumerate(variants[i % 5 : i % 5 + 1 + i % 3])
        ]
        db.session.add(cart)
        db.session.commit()
        checkout.start_checkout(cart.id)
        details = CheckoutDetails(
            email=f"invoice{i}@bench.example.com",
            shipping_address=ADDRESS,
            billing_address=ADDRESS,
            shipping_method="colissimo",
            payment_method="bank_transfer",
            locale="fr",
        )
        order_ids.append(checkout.place_order(cart.id, details).id)
    sink.wait_for("invoice", count, timeout=max(120, 2 * count))  # the confirmations
    confirmations = _check_all_sent(sent_before + count) - sent_before

    def start() -> float:
        meter.start()
        began = time.perf_counter()
        for order_id in order_ids:
            orders.mark_paid(order_id, provider="bank_transfer")
        return began

    return timed(
        "invoices",
        sink,
        sampler,
        meter,
        "invoice",
        count,
        start,
        sent_before + confirmations,
        count,
    )


# -- main ----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": str(len(os.sched_getaffinity(0))),
        "cpu": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--invoices", type=int, default=40)
    parser.add_argument("--only", default="emails,events,invoices")
    args = parser.parse_args()
    parts = set(args.only.split(","))

    postgres = services.start_postgres()
    redis_service = services.start_redis()
    from aiosmtpd.controller import Controller

    sink = Sink()
    smtp_port = services.free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    instance = Path(tempfile.mkdtemp(prefix="bench-emails-"))
    env = {
        "DATABASE_URL": postgres.url,
        "REDIS_URL": redis_service.url,
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "SECRET_KEY": SECRET_KEY,
        "SHOP_INSTANCE_PATH": str(instance),
        "RQ_QUEUE": "comptoir-bench",
        "MAIL_FROM": "Comptoir <boutique@comptoir.example.com>",
        "PUBLIC_BASE_URL": "https://comptoir.example.com",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST": "8192",
    }
    os.environ.update(env)
    worker = None
    sampler = None
    results: dict[str, object] = {
        "benchmark": "emails_through_worker",
        "target_per_second": TARGET_PER_SECOND,
        "machine": machine(),
        "load_before": loadavg(),
    }
    try:
        import flask_migrate

        from shop import create_app

        app = create_app()
        with app.app_context():
            flask_migrate.upgrade()
            worker = start_worker(env, instance / "worker.log", app)
            sampler = MemorySampler(worker.pid)
            meter = CpuMeter(worker.pid, postmaster_pid(postgres.port))
            time.sleep(1)
            with sampler.measuring() as idle:
                time.sleep(0.5)
            results["idle"] = memory_summary(idle)
            sent = 0
            if "emails" in parts:
                results["load_before_emails"] = loadavg()
                results["emails"] = phase_emails(sink, sampler, meter, args.emails, sent)
                sent += args.emails
            if "events" in parts:
                results["load_before_events"] = loadavg()
                results["events"] = phase_events(sink, sampler, meter, args.events, sent)
                sent += args.events
            if "invoices" in parts:
                results["load_before_invoices"] = loadavg()
                results["invoices"] = phase_invoices(sink, sampler, meter, args.invoices, sent)
        results["load_after"] = loadavg()
    finally:
        if sampler is not None:
            sampler.stop()
        if worker is not None:
            stop_worker(worker)
        controller.stop()
        redis_service.stop()
        postgres.stop()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
