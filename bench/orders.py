"""Order placement throughput with concurrent clients, bank transfer, French addresses.

    .venv/bin/python bench/orders.py services [--threads 8 --warmup 2 --duration 15]
    .venv/bin/python bench/orders.py http --base http://127.0.0.1:PORT [same options]

Run it with the shop's environment (``DATABASE_URL``, ``REDIS_URL``, ``SECRET_KEY``...), as
``bench/run.py`` does; it prints one JSON object on its last line of stdout.

``services`` measures the service layer, no HTTP: each thread has its own app context (so its
own database session) and, per order, makes a cart with 1 to 3 lines (``add_to_cart``, the
service the add-to-cart view calls: the first add makes the cart), calls ``start_checkout``
then ``place_order``.

``http`` drives a running shop like 8 browsers: per order, 1 to 3 HTMX add-to-cart POSTs,
then GET /fr/commande, POST /fr/commande (details), GET and POST /fr/commande/recapitulatif,
GET the confirmation page; plain ``http.client``, one connection per request (gunicorn's
sync workers close each one), all cookies kept per shopper.

Both first receive plenty of stock for a pool of tracked variants (``inventory.receive``),
count orders completed after the warm-up, and verify afterwards: as many orders as
``order_placed`` outbox events (and each order has its own), unique order numbers, no
negative stock anywhere, and every variant's ``reserved`` equal to its holds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import multiprocessing
import os
import random
import re
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ADDRESS = {
    "first_name": "Camille",
    "last_name": "Martin",
    "company": "",
    "line1": "12 rue des Lilas",
    "line2": "",
    "postal_code": "69003",
    "city": "Lyon",
    "country": "FR",
    "region": "",
    "phone": "+33 4 72 00 00 00",
}
SHIPPING = "colissimo"
PAYMENT = "bank_transfer"
META_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
MAX_ERRORS = 50


def log(message: str) -> None:
    print(f"orders: {message}", file=sys.stderr, flush=True)


# -- stock -------------------------------------------------------------------------------------


def prepare_stock(pool: int, units: int) -> list[dict]:
    """The ``pool`` tracked, sellable variants with the most free stock, each raised to at
    least ``units`` free units through ``inventory.receive`` (one commit). Needs an app context."""
    from sqlalchemy import select

    from shop.catalogue.models import Product, ProductStatus, ProductTranslation, ProductVariant
    from shop.extensions import db
    from shop.inventory import services as inventory
    from shop.inventory.models import InventoryItem

    rows = db.session.execute(
        select(
            ProductVariant.id,
            InventoryItem.on_hand - InventoryItem.reserved,
            ProductTranslation.slug,
        )
        .join(Product, Product.id == ProductVariant.product_id)
        .join(InventoryItem, InventoryItem.variant_id == ProductVariant.id)
        .join(
            ProductTranslation,
            (ProductTranslation.product_id == Product.id) & (ProductTranslation.locale == "fr"),
        )
        .where(
            ProductVariant.is_active,
            ProductVariant.track_inventory,
            Product.status == ProductStatus.ACTIVE,
        )
        .order_by((InventoryItem.on_hand - InventoryItem.reserved).desc(), ProductVariant.id)
        .limit(pool)
    ).all()
    if len(rows) < pool:
        raise SystemExit(f"only {len(rows)} sellable tracked variants, {pool} wanted")
    for variant_id, free, _ in sorted(rows):  # row locks in variant order, as checkout takes them
        if free < units:
            inventory.receive(variant_id, units - free, reason="bench: stock", commit=False)
    db.session.commit()
    inventory._catalogue_changed()
    return [{"id": v, "slug": slug} for v, _, slug in rows]


# -- checks ------------------------------------------------------------------------------------


def counts() -> dict[str, int]:
    from sqlalchemy import text

    from shop.extensions import db

    one = lambda sql: int(db.session.execute(text(sql)).scalar() or 0)  # noqa: E731
    result = {
        "orders": one("SELECT count(*) FROM orders"),
        "distinct_numbers": one("SELECT count(DISTINCT number) FROM orders"),
        "order_placed_events": one(
            "SELECT count(*) FROM outbox_events WHERE type = 'order_placed'"
        ),
        "orders_without_event": one(
            """SELECT count(*) FROM orders o WHERE NOT EXISTS (
                   SELECT 1 FROM outbox_events e WHERE e.type = 'order_placed'
                   AND (e.payload->>'order_id')::int = o.id)"""
        ),
        "negative_stock": one(
            "SELECT count(*) FROM inventory_items WHERE on_hand - reserved < 0 OR reserved < 0"
        ),
        "reserved_not_held": one(
            """SELECT count(*) FROM inventory_items i LEFT JOIN (
                   SELECT variant_id, sum(quantity) AS held FROM inventory_reservations
                   GROUP BY variant_id) r ON r.variant_id = i.variant_id
               WHERE i.reserved <> coalesce(r.held, 0)"""
        ),
        "orders_without_lines": one(
            "SELECT count(*) FROM orders o WHERE NOT EXISTS "
            "(SELECT 1 FROM order_lines l WHERE l.order_id = o.id)"
        ),
        "pending_bank_transfers": one(
            "SELECT count(*) FROM payments WHERE provider = 'bank_transfer' AND status = 'pending'"
        ),
    }
    db.session.rollback()
    return result


def verify(before: dict[str, int], after: dict[str, int], placed: int) -> dict:
    checks = {
        "orders = order_placed events": after["orders"] == after["order_placed_events"],
        "every order has its event": after["orders_without_event"] == 0,
        "unique order numbers": after["distinct_numbers"] == after["orders"],
        "no negative stock": after["negative_stock"] == 0,
        "reserved = holds": after["reserved_not_held"] == 0,
        "every order has lines": after["orders_without_lines"] == 0,
        "orders added = orders the driver placed": after["orders"] - before["orders"] == placed,
    }
    return {"checks": checks, "ok": all(checks.values()), "before": before, "after": after}


# -- CPU ---------------------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def children_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


class CpuMeter:
    """CPU seconds of the driver, of PostgreSQL's processes (as pg_stat_activity lists them:
    the backends serving clients, and the background ones apart) and of a server (a gunicorn
    master and its workers), between two snapshots."""

    def __init__(self, driver_pids: list[int], server_pid: int | None = None) -> None:
        import psycopg

        dsn = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
        self.connection = psycopg.connect(dsn, autocommit=True)
        self.driver_pids = driver_pids
        self.server_pid = server_pid

    def snapshot(self) -> dict[str, dict[int, float]]:
        rows = self.connection.execute(
            "SELECT pid, backend_type = 'client backend' FROM pg_stat_activity"
        ).fetchall()
        groups = {
            "driver": self.driver_pids,
            "postgres": [pid for pid, client in rows if client],
            # autovacuum, checkpointer, WAL and background writers: the write load's aftermath
            "postgres background": [pid for pid, client in rows if not client],
        }
        if self.server_pid:
            groups["server"] = [self.server_pid, *children_of(self.server_pid)]
        return {name: {pid: cpu_seconds(pid) for pid in pids} for name, pids in groups.items()}

    @staticmethod
    def spent(first: dict, last: dict) -> dict[str, float]:
        return {
            name: sum(cpu - first[name].get(pid, 0.0) for pid, cpu in last[name].items())
            for name in last
        }

    def close(self) -> None:
        self.connection.close()


# -- timing ------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the clients report; merged under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    done: list[tuple[float, float]] = field(default_factory=list)  # (finished at, seconds)
    phases: Counter = field(default_factory=Counter)  # seconds per step, all orders
    statements: Counter = field(default_factory=Counter)  # SQL statements per step
    errors: Counter = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)

    def record(self, finished: float, seconds: float, phases: dict[str, float]) -> None:
        with self.lock:
            self.done.append((finished, seconds))
            self.phases.update(phases)

    def error(self, error: BaseException) -> bool:
        """Count it; False once there are too many to go on."""
        with self.lock:
            self.errors[f"{type(error).__name__}: {str(error)[:160]}"] += 1
            if len(self.error_samples) < 3:
                self.error_samples.append(traceback.format_exc(limit=8))
            return sum(self.errors.values()) < MAX_ERRORS

    def export(self) -> dict:
        return {
            "done": self.done,
            "phases": dict(self.phases),
            "statements": dict(self.statements),
            "errors": dict(self.errors),
            "error_samples": self.error_samples,
        }

    def merge(self, other: dict) -> None:
        with self.lock:
            self.done.extend(other["done"])
            self.phases.update(other["phases"])
            self.statements.update(other["statements"])
            self.errors.update(other["errors"])
            self.error_samples.extend(other["error_samples"][: 3 - len(self.error_samples)])


def percentile(values: list[float], share: float) -> float:
    """Nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def summarize(tally: Tally, window: tuple[float, float], cpu: dict[str, float]) -> dict:
    seconds = window[1] - window[0]
    kept = [spent for finished, spent in tally.done if window[0] <= finished <= window[1]]
    total = len(tally.done)
    per_order = (lambda value: value / total * 1000) if total else (lambda value: float("nan"))
    return {
        "orders_total": total,
        "orders_measured": len(kept),
        "seconds": round(seconds, 3),
        "orders_per_s": len(kept) / seconds if seconds > 0 else 0.0,
        "p50_ms": percentile(kept, 0.50) * 1000,
        "p99_ms": percentile(kept, 0.99) * 1000,
        "mean_ms": (sum(kept) / len(kept) * 1000) if kept else float("nan"),
        # all orders (warm-up included): mean ms and SQL statements per order in each step
        "phases_ms": {name: per_order(spent) for name, spent in tally.phases.items()},
        "statements_per_order": {
            name: count / total if total else float("nan")
            for name, count in tally.statements.items()
        },
        # measured window: CPU seconds per order of the driver, PostgreSQL, the server
        "cpu_ms_per_order": {
            name: spent / len(kept) * 1000 if kept else float("nan") for name, spent in cpu.items()
        },
        "cpu_busy": {name: spent / seconds for name, spent in cpu.items()},
        "errors": dict(tally.errors),
        "error_samples": tally.error_samples,
    }


def measure(start, stop, args: argparse.Namespace, meter: CpuMeter) -> tuple:
    """``start()`` the clients (returns once they run), measure CPU over the window after
    the warm-up, ``stop()`` them; the window and the CPU spent in it."""
    start()
    started = time.perf_counter()
    window = (started + args.warmup, started + args.warmup + args.duration)
    time.sleep(max(0.0, window[0] - time.perf_counter()))
    first = meter.snapshot()
    time.sleep(max(0.0, window[1] - time.perf_counter()))
    last = meter.snapshot()
    stop()
    return window, CpuMeter.spent(first, last)


# -- the service layer -------------------------------------------------------------------------

_step = threading.local()


def count_statements(app, tally: Tally) -> None:
    """Count SQL statements per checkout step (the step each thread is in)."""
    from sqlalchemy import event

    from shop.extensions import db

    def before(*_args: object) -> None:
        counts = getattr(_step, "counts", None)
        if counts is not None:
            counts[_step.name] += 1

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", before)


def service_client(app, args: argparse.Namespace, pool: list[int], number: int, stop, tally):
    """One client: orders, one after another, until ``stop`` is set."""
    from shop.cart import services as carts
    from shop.checkout import services as checkout
    from shop.checkout.addresses import validate_address
    from shop.extensions import db

    rng = random.Random(args.seed * 1000 + number)
    _step.counts = Counter()
    with app.app_context():
        address, problems = validate_address(ADDRESS, "fr")
        if problems:
            raise SystemExit(f"the bench address is refused: {problems}")
        address_dict = address.as_dict()
        serial = 0
        while not stop.is_set():
            serial += 1
            try:
                t0 = time.perf_counter()
                _step.name = "cart"
                token = None  # the first add makes the cart, as the add-to-cart view does
                for variant_id in rng.sample(pool, rng.randint(1, 3)):
                    added = carts.add_to_cart(
                        token=token,
                        customer_id=None,
                        variant_id=variant_id,
                        quantity=rng.randint(1, 2),
                        locale="fr",
                    )
                    token, cart_id = added.token, added.cart_id
                t1 = time.perf_counter()
                _step.name = "start_checkout"
                checkout.start_checkout(cart_id)
                t2 = time.perf_counter()
                _step.name = "place_order"
                checkout.place_order(
                    cart_id,
                    checkout.CheckoutDetails(
                        email=f"bench-{number}-{serial}@example.com",
                        shipping_address=address_dict,
                        billing_address=address_dict,
                        shipping_method=SHIPPING,
                        payment_method=PAYMENT,
                        locale="fr",
                    ),
                )
                t3 = time.perf_counter()
            except Exception as error:  # counted and shown; the run goes on
                db.session.rollback()
                db.session.close()
                if not tally.error(error):
                    return
                continue
            _step.name = "other"
            db.session.close()  # a request's session ends with the request
            tally.record(
                t3, t3 - t0, {"cart": t1 - t0, "start_checkout": t2 - t1, "place_order": t3 - t2}
            )
    with tally.lock:
        tally.statements.update(_step.counts)


def _service_process(args, pool, numbers, ready, go, stop, results) -> None:
    """A process of ``--processes``: its own app, ``numbers`` client threads."""
    from shop import create_app

    app = create_app()
    tally = Tally()
    count_statements(app, tally)
    threads = [
        threading.Thread(target=service_client, args=(app, args, pool, n, stop, tally))
        for n in numbers
    ]
    ready.put(os.getpid())
    go.wait()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(tally.export())


def drive_services(app, args: argparse.Namespace, pool: list[int]) -> dict:
    tally = Tally()
    if args.processes <= 1:
        count_statements(app, tally)
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=service_client, args=(app, args, pool, n, stop, tally), daemon=True
            )
            for n in range(args.threads)
        ]
        meter = CpuMeter([os.getpid()])

        def start() -> None:
            for thread in threads:
                thread.start()

        def finish() -> None:
            stop.set()
            for thread in threads:
                thread.join(120)

    else:
        context = multiprocessing.get_context("spawn")
        ready, results = context.Queue(), context.Queue()
        go, stop = context.Event(), context.Event()
        numbers = [list(range(args.threads))[p :: args.processes] for p in range(args.processes)]
        processes = [
            context.Process(
                target=_service_process, args=(args, pool, part, ready, go, stop, results)
            )
            for part in numbers
        ]
        for process in processes:
            process.start()
        meter = CpuMeter([ready.get(timeout=120) for _ in processes])

        def start() -> None:
            go.set()

        def finish() -> None:
            stop.set()
            for _ in processes:
                tally.merge(results.get(timeout=120))
            for process in processes:
                process.join(30)

    try:
        window, cpu = measure(start, finish, args, meter)
    finally:
        meter.close()
    return summarize(tally, window, cpu)


# -- over HTTP ---------------------------------------------------------------------------------


class HttpError(RuntimeError):
    pass


class Shopper:
    """One browser: its own cookies, one connection per request (no keep-alive with gunicorn's
    sync workers), redirects followed by hand."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.cookies: dict[str, str] = {"lang": "fr"}
        self.token = ""
        self.requests = 0
        self.spent: Counter = Counter()  # seconds per step of the current order

    def send(
        self,
        step: str,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> tuple[int, http.client.HTTPResponse, str]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        sent = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        sent.update(headers or {})
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode("utf-8", errors="replace")
        finally:
            connection.close()
        self.requests += 1
        self.spent[step] += time.perf_counter() - started
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            if "max-age=0" in cookie.lower():
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        if response.status not in expect:
            raise HttpError(f"{method} {path} answered {response.status}: {text[:200]!r}")
        if found := META_TOKEN.search(text):
            self.token = found.group(1)
        return response.status, response, text

    def follow(self, response: http.client.HTTPResponse, prefix: str) -> str:
        location = response.headers.get("Location", "")
        path = urlsplit(location).path
        if not path.startswith(prefix):
            raise HttpError(f"redirected to {location!r}, not {prefix}...")
        return path


def http_order(shopper: Shopper, rng: random.Random, pool: list[int], email: str) -> None:
    if not shopper.token:
        raise HttpError("no CSRF token yet")
    for variant_id in rng.sample(pool, rng.randint(1, 3)):
        shopper.send(
            "add to cart (HTMX)",
            "POST",
            "/fr/panier/ajouter",
            {"variant_id": str(variant_id), "quantity": str(rng.randint(1, 2))},
            {"HX-Request": "true", "X-CSRFToken": shopper.token},
        )
    shopper.send("GET details", "GET", "/fr/commande")
    form = {"csrf_token": shopper.token, "email": email, "billing_same": "1"}
    form.update({f"shipping-{name}": value for name, value in ADDRESS.items()})
    form.update({"shipping_method": SHIPPING, "payment_method": PAYMENT})
    _, response, _ = shopper.send("POST details", "POST", "/fr/commande", form, expect=(302, 303))
    review = shopper.follow(response, "/fr/commande/recapitulatif")
    shopper.send("GET review", "GET", review)
    _, response, _ = shopper.send(
        "POST review (place order)",
        "POST",
        review,
        {"csrf_token": shopper.token},
        expect=(302, 303),
    )
    shopper.send("GET confirmation", "GET", shopper.follow(response, "/fr/commande/confirmation/"))


def drive_http(args: argparse.Namespace, pool: list[dict]) -> dict:
    ids = [variant["id"] for variant in pool]
    first_page = f"/fr/produits/{pool[0]['slug']}"
    tally = Tally()
    requests: Counter = Counter()
    stop = threading.Event()

    def client(number: int) -> None:
        rng = random.Random(args.seed * 1000 + number)
        shopper = Shopper(args.base)
        serial = 0
        while not stop.is_set():
            serial += 1
            try:
                if not shopper.token:
                    shopper.send("GET product page", "GET", first_page)
                before = shopper.requests
                shopper.spent = Counter()
                t0 = time.perf_counter()
                http_order(shopper, rng, ids, f"bench-http-{number}-{serial}@example.com")
                t1 = time.perf_counter()
            except Exception as error:  # counted and shown; the shopper starts afresh
                shopper = Shopper(args.base)
                if not tally.error(error):
                    return
                continue
            tally.record(t1, t1 - t0, dict(shopper.spent))
            with tally.lock:
                requests[shopper.requests - before] += 1

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.threads)]

    def start() -> None:
        for thread in threads:
            thread.start()

    def finish() -> None:
        stop.set()
        for thread in threads:
            thread.join(120)

    meter = CpuMeter([os.getpid()], server_pid=args.server_pid)
    try:
        window, cpu = measure(start, finish, args, meter)
    finally:
        meter.close()
    result = summarize(tally, window, cpu)
    result["requests_per_order"] = {str(k): v for k, v in sorted(requests.items())}
    return result


# -- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("services", "http"))
    parser.add_argument("--base", help="the running shop, for http")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--pool", type=int, default=200, help="variants orders draw from")
    parser.add_argument("--stock", type=int, default=20000, help="free units per variant")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument(
        "--processes", type=int, default=1, help="services: spread the clients over processes"
    )
    parser.add_argument("--server-pid", type=int, help="http: the gunicorn master, for its CPU")
    args = parser.parse_args()
    if args.mode == "http" and not args.base:
        parser.error("http needs --base")

    from shop import create_app

    app = create_app()
    with app.app_context():
        pool = prepare_stock(args.pool, args.stock)
        before = counts()
    log(f"{args.mode}: {len(pool)} variants with ≥ {args.stock} free units each")
    log(
        f"{args.mode}: {args.threads} clients"
        + (f" in {args.processes} processes" if args.processes > 1 else "")
        + f", {args.warmup:g} s warm-up + {args.duration:g} s"
    )
    if args.mode == "services":
        result = drive_services(app, args, [variant["id"] for variant in pool])
    else:
        result = drive_http(args, pool)
    with app.app_context():
        after = counts()
    result.update(mode=args.mode, threads=args.threads, processes=args.processes, pool=len(pool))
    result["verification"] = verify(before, after, result["orders_total"])
    for message, times in result["errors"].items():
        log(f"{times} × {message}")
    for sample in result["error_samples"]:
        log(sample)
    log(
        f"{args.mode}: {result['orders_per_s']:.1f} orders/s, p50 {result['p50_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms; checks "
        + ("pass" if result["verification"]["ok"] else "FAIL")
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
