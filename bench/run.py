"""Storefront, add-to-cart and order-placement throughput, on loopback, in one run.

    .venv/bin/python bench/run.py            (or: make bench)
    .venv/bin/python bench/run.py --only cart,orders

Starts a throwaway PostgreSQL cluster and redis-server (``tests/services.py``), migrates,
seeds ``--products`` demo products (timed), serves the shop and ``bench/ceiling.py`` with
gunicorn (2 sync workers each, 127.0.0.1, free ports below 32768), then runs the parts
asked for (all by default):

- ``storefront``: picks a home, category, product and search URL from the running shop and
  drives each one and the ceiling with wrk;
- ``cart``: HTMX add-to-cart POSTs with wrk and ``bench/add_to_cart.lua`` (one shopper per
  connection, ``bench/cart.py`` prepares the stock and carts), against the ceiling driven
  the same way;
- ``orders``: ``bench/orders.py services``, 8 clients placing bank-transfer orders through
  the service layer (threads of one process); ``orders-procs``: the same 8 clients spread
  over 2 processes (is the driver's GIL the limit?); ``orders-http``: ``bench/orders.py
  http``, 8 shoppers going through the real checkout pages of a second shop server whose
  checkout rate limit is lifted;
- ``embedded``: the shop as ``make run`` serves it, on its own (no PostgreSQL or Redis):
  a SQLite database seeded with ``--embedded-products`` (240, ``make run``'s default),
  ``flask shop serve`` (Werkzeug's threaded server, no ``REDIS_URL``), its four pages each
  driven right after the ceiling served by the same Werkzeug server; the ceiling under
  gunicorn is measured too, for reference;

then prints Markdown tables and writes them to ``bench/results/latest.md``.
Everything it starts is stopped on exit, failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from tests.services import free_port, start_postgres, start_redis, wait_for_port  # noqa: E402

SECRET_KEY = "comptoir-bench-secret-key-not-for-production"
# A Fernet key (32 url-safe base64 bytes), fixed so runs are comparable.
ENCRYPTION_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"comptoir-bench").digest()).decode()

# Page -> (minimum share of the ceiling's req/s, or None) ; p99 must stay under P99_MAX_MS.
TARGETS: dict[str, float | None] = {"home": None, "category": 0.25, "product": 0.25, "search": 0.15}
P99_MAX_MS = 25.0
PARTS = ("storefront", "cart", "orders", "orders-procs", "orders-http", "embedded")
PRODUCTION_PARTS = PARTS[:-1]  # served by gunicorn with PostgreSQL and Redis
EMBEDDED_PRODUCTS = 240  # `make run` seeds `flask shop seed-demo --if-empty`: 240 products
CART_TARGET = 0.15  # add-to-cart POSTs/s as a share of the ceiling's req/s
ORDERS_TARGET = 100.0  # orders/s with 8 concurrent clients (bank transfer)
CART_MAX_PER_LINE = 1_000_000  # the shop's per-line cap, lifted so repeated adds stay 200s
CART_STOCK = 1_000_000
# 8 shoppers from one address would hit the 30-per-minute checkout limit at once.
CHECKOUT_APP = "shop:create_app({'CHECKOUT_RATE_LIMIT': '1000000 per minute'})"
PRODUCT_LINK = re.compile(r'href="(/fr/produits/[^"?#]+)"')


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    pass


# -- processes ---------------------------------------------------------------------------


def run(cmd: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    result = subprocess.run(
        cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise BenchError(
            f"{' '.join(cmd)} exited with {result.returncode}\n{result.stdout}{result.stderr}"
        )
    return result


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        """SIGTERM to the gunicorn master (it stops its workers), then wait; SIGKILL the
        process group it leads if it does not go."""
        if self.process.returncode is not None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        log(f"{self.name} stopped")


def start_server(
    name: str, command: list[str], chdir: Path, env: dict[str, str], port: int, tmp: Path
) -> Server:
    """Start a server process on ``port`` (its output to a log file) and wait for it."""
    log_path = tmp / f"server-{name}.log"
    with log_path.open("wb") as output:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=chdir,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop it cleanly
        )
    server = Server(name, process, port, log_path)
    try:
        wait_for_port(port, timeout=60, process=process)
    except (RuntimeError, TimeoutError) as error:
        server.stop()
        raise BenchError(f"{name} did not start: {error}\n{server.log_tail()}") from None
    return server


def start_gunicorn(
    name: str, app: str, chdir: Path, env: dict[str, str], workers: int, tmp: Path
) -> Server:
    port = free_port()
    command = [
        str(BIN / "gunicorn"),
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{port}",
        "--chdir",
        str(chdir),
        app,
    ]
    server = start_server(name, command, chdir, env, port, tmp)
    log(f"{name}: gunicorn pid {server.process.pid}, {workers} workers on {server.base}")
    return server


# -- HTTP --------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect is an answer, not a hop
        return None


_opener = urllib.request.build_opener(_NoRedirect())


def fetch(url: str) -> tuple[str, float]:
    """The page's body and the time it took; BenchError unless the answer is 200."""
    started = time.perf_counter()
    try:
        with _opener.open(url, timeout=60) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    elapsed = time.perf_counter() - started
    if status != 200:
        raise BenchError(f"GET {url} answered {status}, not 200:\n{body[:500]!r}")
    return body.decode("utf-8", errors="replace"), elapsed


# -- wrk ---------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    seconds: float  # the measured run's length, as wrk timed it


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _latency_ms(output: str, percentile: str) -> float:
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE)
    if not match:
        raise BenchError(f"no {percentile}% line in wrk's output:\n{output}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", output, re.MULTILINE)
    if not rate or not total:
        raise BenchError(f"cannot read wrk's output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests_per_s=float(rate.group(1)),
        p50_ms=_latency_ms(output, "50"),
        p99_ms=_latency_ms(output, "99"),
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(map(int, sockets.groups())) if sockets else 0,
        seconds=float(total.group(2)) * _UNITS_MS[total.group(3)] / 1000,
    )


def wrk_command(args: argparse.Namespace, threads: int, connections: int, seconds: int) -> list:
    """``--accept-encoding``: the header every request of the page and ceiling runs sends
    (the ceiling does not compress; the shop does, issue 13)."""
    encoding = getattr(args, "accept_encoding", "")
    headers = ["-H", f"Accept-Encoding: {encoding}"] if encoding else []
    return ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", *headers]


def transfer_size(url: str, encoding: str) -> int:
    """The bytes of the page's body as sent with ``Accept-Encoding: encoding``."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": encoding})
    with _opener.open(request, timeout=60) as response:
        return len(response.read())


def drive(
    url: str,
    args: argparse.Namespace,
    *,
    threads: int | None = None,
    connections: int | None = None,
    script: Path | None = None,
    env: dict[str, str] | None = None,
) -> tuple[WrkResult, str, str]:
    """Warm-up then measured run; the measured result and both runs' output."""
    threads, connections = threads or args.threads, connections or args.connections
    extra = ["-s", str(script)] if script else []
    outputs = []
    for seconds, latency in ((args.warmup, []), (args.duration, ["--latency"])):
        done = subprocess.run(
            [*wrk_command(args, threads, connections, seconds), *latency, *extra, url],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
            env=env,
        )
        outputs.append(done.stdout)
    return parse_wrk(outputs[1]), outputs[0], outputs[1]


def wrk_run(
    url: str,
    seconds: int,
    *,
    threads: int,
    connections: int,
    script: Path | None = None,
    env: dict[str, str] | None = None,
    latency: bool = True,
) -> tuple[WrkResult | None, str]:
    """One wrk run: its result (None without --latency) and its output."""
    extra = ["-s", str(script)] if script else []
    done = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            *(["--latency"] if latency else []),
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
        env=env,
    )
    return (parse_wrk(done.stdout) if latency else None), done.stdout


# -- CPU of the servers ------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (0 for one that is gone)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def process_tree(pid: int) -> list[int]:
    """A gunicorn master and its workers (or a postmaster and its backends)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(entry.name))
    return [pid, *children]


def postmaster_pid(database_url: str) -> int:
    import psycopg

    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as connection:
        directory = connection.execute("SHOW data_directory").fetchone()[0]
    return int(Path(directory, "postmaster.pid").read_text().split()[0])


# -- picking the pages -------------------------------------------------------------------


def query(database_url: str, sql: str) -> list[tuple]:
    """Rows of one statement, on PostgreSQL or on a SQLite file."""
    if database_url.startswith("sqlite:///"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(database_url[len("sqlite:///") :])) as db:
            return db.execute(sql).fetchall()
    import psycopg

    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as connection:
        return connection.execute(sql).fetchall()


_BIGGEST_CATEGORY = """
    WITH RECURSIVE tree(root, id) AS (
        SELECT c.id, c.id FROM categories c {roots}
        UNION ALL
        SELECT tree.root, c.id FROM categories c JOIN tree ON c.parent_id = tree.id
    )
    SELECT t.slug, count(p.id) AS n
    FROM tree
    JOIN products p ON p.category_id = tree.id AND p.status = 'active'
    JOIN category_translations t ON t.category_id = tree.root AND t.locale = 'fr'
    GROUP BY tree.root, t.slug
    HAVING count(p.id) >= 24
    ORDER BY n DESC, t.slug
    LIMIT 1
"""
SECOND_LEVEL = "JOIN categories parent ON parent.id = c.parent_id WHERE parent.parent_id IS NULL"
TOP_LEVEL = "WHERE c.parent_id IS NULL"


def pick_urls(database_url: str, base: str) -> dict[str, str]:
    """Home, the biggest second-level category (in a small shop where none has 24 active
    products, the biggest top-level one), the first product it lists, and a search for the
    most common first word of the French product titles."""
    rows = query(database_url, _BIGGEST_CATEGORY.format(roots=SECOND_LEVEL)) or query(
        database_url, _BIGGEST_CATEGORY.format(roots=TOP_LEVEL)
    )
    if not rows:
        raise BenchError("no category with 24 active products")
    category_slug, category_count = rows[0]
    titles = query(
        database_url,
        """
        SELECT t.title FROM product_translations t
        JOIN products p ON p.id = t.product_id
        WHERE t.locale = 'fr' AND p.status = 'active'
        """,
    )
    words = Counter(
        first.lower()
        for (title,) in titles
        if (first := (title.split() or [""])[0]).isalpha() and len(first) >= 4
    )
    if not words:
        raise BenchError("no French product title to search for")
    word = words.most_common(1)[0][0]
    log(f"category {category_slug!r} ({category_count} active products); search word {word!r}")
    urls = {
        "home": f"{base}/fr/",
        "category": f"{base}/fr/categories/{category_slug}",
        "search": f"{base}/fr/recherche?q={urllib.request.quote(word)}",
    }
    page, _ = fetch(urls["category"])
    links = list(dict.fromkeys(PRODUCT_LINK.findall(page)))
    if len(links) < 24:
        raise BenchError(f"{urls['category']} lists {len(links)} products, not 24")
    urls["product"] = base + links[0]
    return {name: urls[name] for name in ("home", "category", "product", "search")}


# -- facts and report --------------------------------------------------------------------


def machine_facts() -> dict[str, str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError, IndexError, ValueError):
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    versions = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib.metadata as m;"
            "print(' '.join(f'{n} {m.version(n)}' for n in ('flask','gunicorn','jinja2')))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": model,
        "memory": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "software": versions.stdout.strip(),
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0].split(" Copyright")[0],
    }


def git_state() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", "shop", "templates"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{head}" + (" + uncommitted changes under shop/ or templates/" if dirty else "")


def loadavg() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "unknown"


def verdict(name: str, result: WrkResult, ratio: float) -> str:
    misses = []
    floor = TARGETS[name]
    if floor is not None and ratio < floor:
        misses.append(f"{ratio:.0%} < {floor:.0%}")
    if result.p99_ms > P99_MAX_MS:
        misses.append(f"p99 > {P99_MAX_MS:g} ms")
    if result.non_2xx or result.socket_errors:
        misses.append(f"{result.non_2xx} non-2xx, {result.socket_errors} socket errors")
    return "yes" if not misses else "**no** (" + "; ".join(misses) + ")"


def _header(ctx: dict) -> list[str]:
    facts, args = ctx["facts"], ctx["args"]
    lines = [
        f"## Benchmarks ({', '.join(ctx['parts'])}), {ctx['started']:%Y-%m-%d %H:%M} UTC",
        "",
        f"- Machine: {facts['nproc']} CPUs ({facts['cpu']}), {facts['memory']} RAM, "
        f"Linux {facts['kernel']}, Python {facts['python']}, {facts['software']}, "
        f"{facts['wrk']}",
        f"- Load average before the run: {ctx['load_before']}; after: {ctx['load_after']}"
        + "".join(f"; before {part}: {load}" for part, load in ctx["part_loads"].items()),
        f"- Code: {ctx['git']}",
    ]
    if "seed_s" in ctx:
        lines += [
            f"- Data: `flask shop seed-demo --products {args.products}` in "
            f"**{ctx['seed_s']:.1f} s** ({ctx['catalogue']})",
            f"- Servers: gunicorn, {args.workers} sync workers each, 127.0.0.1; shop with "
            "PostgreSQL 15 (throwaway cluster: fsync and synchronous_commit off) + Redis, "
            f"LOG_LEVEL=WARNING, CART_MAX_PER_LINE={CART_MAX_PER_LINE:,}; ceiling = "
            "bench/ceiling.py (Flask + Jinja, no database, 11 KB page)",
        ]
    return [*lines, ""]


def _storefront(ctx: dict) -> list[str]:
    ceiling: WrkResult = ctx["results"]["ceiling"]
    cmd = f"wrk -t{ctx['args'].threads} -c{ctx['args'].connections}"
    lines = [
        "### Storefront pages",
        "",
        f"Load: `{cmd} -d{ctx['args'].warmup}s URL` (warm-up), then "
        f"`{cmd} -d{ctx['args'].duration}s --latency URL`, one page at a time.",
        "",
        "| page | URL | size (KB) | req/s | p50 (ms) | p99 (ms) | % of ceiling "
        "| target | meets targets |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for name in ("ceiling", "home", "category", "product", "search"):
        result: WrkResult = ctx["results"][name]
        path = ctx["urls"][name].split(str(ctx["ports"][name]), 1)[1]
        ratio = result.requests_per_s / ceiling.requests_per_s
        if name == "ceiling":
            target, meets = "reference", "n/a"
        else:
            floor = TARGETS[name]
            target = (f"≥ {floor:.0%} · " if floor else "") + f"p99 ≤ {P99_MAX_MS:g} ms"
            meets = verdict(name, result, ratio)
        lines.append(
            f"| {name} | `{path}` | {ctx['sizes'][name] / 1024:.1f} "
            f"| {result.requests_per_s:,.0f} | {result.p50_ms:.2f} | {result.p99_ms:.2f} "
            f"| {ratio:.0%} | {target} | {meets} |"
        )
    met = sum(
        verdict(n, ctx["results"][n], ctx["results"][n].requests_per_s / ceiling.requests_per_s)
        == "yes"
        for n in TARGETS
    )
    return [*lines, "", f"Targets met by {met} of {len(TARGETS)} storefront pages.", ""]


def _cart(ctx: dict) -> list[str]:
    cart = ctx["cart"]
    ceilings: list[WrkResult] = cart["ceiling_runs"]
    runs: list[WrkResult] = cart["add_runs"]
    n = cart["connections"]
    failures = cart["failed"] + sum(r.non_2xx + r.socket_errors for r in runs)
    meets = "yes" if cart["ratio"] >= CART_TARGET and not failures else "**no**"
    check = cart["check"]
    cpu = cart["cpu_ms"]
    p50 = sorted(r.p50_ms for r in runs)[len(runs) // 2]
    ceiling_p50 = sorted(r.p50_ms for r in ceilings)[len(ceilings) // 2]
    return [
        "### Add to cart (HTMX POST)",
        "",
        f"Load: `wrk -t{n} -c{n} -s bench/add_to_cart.lua`: {n} shoppers, one per connection; "
        f"each GETs `{cart['page']}` (session cookie + CSRF token from the page), then POSTs "
        f"`/fr/panier/ajouter` with `HX-Request: true`, `X-CSRFToken` and its cookies (lang, "
        f"session, cart), 1 unit of variant {cart['variant_id']} (`{cart['sku']}`, tracked, "
        f"{cart['stock']:,} units in stock), over and over. The cart cookies are issued before "
        "the run (one empty cart per connection, `bench/cart.py`). The ceiling is driven "
        f"with the same `wrk -t{n} -c{n}`. After {ctx['args'].warmup} s of warm-up each, "
        f"{cart['rounds']} rounds of {cart['seconds']} s ceiling then {cart['seconds']} s add "
        "to cart, so that other load on the machine weighs on both alike; the ratio is all "
        "the adds answered 200 per second over all the ceiling's requests per second.",
        "",
        "| run | requests | req/s | add POSTs answered 200 /s | p50 (ms), median of rounds "
        "| p99 (ms), worst round | % of ceiling (rounds) | target | meets target |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
        f"| ceiling `/` | {sum(r.requests for r in ceilings):,} | {cart['ceiling_rate']:,.0f} "
        f"| n/a | {ceiling_p50:.2f} | {max(r.p99_ms for r in ceilings):.2f} | 100% "
        "| reference | n/a |",
        f"| add to cart | {sum(r.requests for r in runs):,} "
        f"| {sum(r.requests for r in runs) / sum(r.seconds for r in runs):,.0f} "
        f"| {cart['adds_per_s']:,.0f} | {p50:.2f} | {max(r.p99_ms for r in runs):.2f} "
        f"| **{cart['ratio']:.1%}** ({', '.join(f'{x:.1%}' for x in cart['round_ratios'])}) "
        f"| ≥ {CART_TARGET:.0%} | {meets} |",
        "",
        f"CPU per request, from /proc over the measured runs: ceiling server "
        f"{cpu['ceiling']:.2f} ms; add to cart: shop server {cpu['shop']:.2f} ms + "
        f"PostgreSQL {cpu['postgres']:.2f} ms (wrk's own CPU not counted).",
        "",
        f"Measured runs: {cart['gets']} GETs (one per shopper and run) and {cart['adds']:,} "
        f"adds answered 200; failures: {cart['failed']} refused adds (statuses: "
        f"{cart['statuses']}), and by wrk's own count "
        f"{sum(r.non_2xx for r in runs)} non-2xx/3xx answers and "
        f"{sum(r.socket_errors for r in runs)} socket errors. Afterwards the "
        f"shoppers' carts hold {check['units']:,} units on {check['lines']} lines, for "
        f"{cart['adds_all']:,} adds answered 200 over warm-up and runs (a POST still in flight "
        "when wrk stops is served but not counted); "
        f"{check['carts_made_during_run']} carts were made during the runs.",
        "",
    ]


ORDER_PARTS = ("orders", "orders-procs", "orders-http")


def order_run(part: str, clients: int) -> str:
    return {
        "orders": f"service layer, 1 process × {clients} threads",
        "orders-procs": f"service layer, 2 processes × {clients / 2:g} threads",
        "orders-http": f"HTTP checkout pages, {clients} shoppers (threads)",
    }[part]


def _ms(values: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.1f}" for name, value in values.items())


def _orders(ctx: dict) -> list[str]:
    args = ctx["args"]
    lines = [
        "### Order placement (bank transfer, French address, colissimo)",
        "",
        f"{args.orders_clients} concurrent clients, {args.orders_warmup} s warm-up then "
        f"{args.orders_duration} s measured (orders completed in that window); each order is "
        "a new guest cart with 1 to 3 lines (1 or 2 units each) drawn from 200 tracked "
        "variants with plenty of stock. Latency is per order, from the first add to cart to "
        "the placed order (HTTP: to the confirmation page).",
        "",
        "| driver | orders (all) | orders/s | p50 (ms) | p99 (ms) | errors | checks "
        "| target | meets target |",
        "|---|---:|---:|---:|---:|---:|---|---|---|",
    ]
    details = []
    for part in ORDER_PARTS:
        result = ctx["orders"].get(part)
        if result is None:
            continue
        label = order_run(part, args.orders_clients)
        verification = result["verification"]
        failed = [name for name, ok in verification["checks"].items() if not ok]
        errors = sum(result["errors"].values())
        meets = (
            "yes"
            if result["orders_per_s"] >= ORDERS_TARGET and not errors and verification["ok"]
            else "**no**"
        )
        lines.append(
            f"| {label} | {result['orders_total']:,} | {result['orders_per_s']:.1f} "
            f"| {result['p50_ms']:.1f} | {result['p99_ms']:.1f} | {errors} "
            f"| {'pass' if verification['ok'] else 'FAIL: ' + ', '.join(failed)} "
            f"| ≥ {ORDERS_TARGET:g} orders/s | {meets} |"
        )
        busy = ", ".join(f"{name} {value:.2f}" for name, value in result["cpu_busy"].items())
        details.append(
            f"- {label}: mean ms per order by step: {_ms(result['phases_ms'])}; "
            f"CPU ms per order: {_ms(result['cpu_ms_per_order'])} (CPUs busy: {busy})"
            + (
                f"; SQL statements per order: {_ms(result['statements_per_order'])}"
                if result.get("statements_per_order")
                else ""
            )
            + (
                "; HTTP requests per order (orders): "
                + ", ".join(f"{k} ({v})" for k, v in result["requests_per_order"].items())
                if result.get("requests_per_order")
                else ""
            )
            + (f"; errors: {result['errors']}" if result["errors"] else "")
        )
    checks = next(iter(ctx["orders"].values()))["verification"]["checks"]
    return [
        *lines,
        "",
        *details,
        "",
        "Checks after each run: " + "; ".join(checks) + ".",
        "",
    ]


EMBEDDED_PAGES = ("home", "category", "product", "search")


def _embedded(ctx: dict) -> list[str]:
    part, args = ctx["embedded"], ctx["args"]
    cmd = f"wrk -t{args.threads} -c{args.connections}"
    gunicorn: WrkResult = part["gunicorn_ceiling"]
    cpu = part["cpu_ms"]
    lines = [
        "### Embedded default (`make run`): SQLite, no Redis, `flask shop serve`",
        "",
        f"Data: `flask shop seed-demo --products {part['products']}` on SQLite (no "
        f"DATABASE_URL, no REDIS_URL) in **{part['seed_s']:.1f} s** ({part['catalogue']}). "
        "Server: `flask shop serve` as `make run` starts it: Werkzeug's `run_simple`, "
        "threaded, one process, periodic jobs on a thread, pages cached in the process's "
        "memory, LOG_LEVEL=WARNING (Werkzeug still logs one line per request, to a file). "
        "Ceiling: `bench/ceiling.py` served by the same threaded Werkzeug server "
        f"(`python bench/ceiling.py --port N`); each page's run comes right after a run of "
        "that ceiling and its ratio is to that run, so load from other processes weighs on "
        f"both alike. Load: `{cmd} -d{args.warmup}s URL` (warm-up) then "
        f"`{cmd} -d{args.duration}s --latency URL` for each. For reference, the same "
        f"ceiling under gunicorn ({args.workers} sync workers, as in production's "
        f"comparison) did **{gunicorn.requests_per_s:,.0f} req/s** (p99 "
        f"{gunicorn.p99_ms:.2f} ms); the last column compares each page with it. "
        + (
            f"Every request sends `Accept-Encoding: {args.accept_encoding}` (size: as sent)."
            if args.accept_encoding
            else "No `Accept-Encoding` (bodies uncompressed)."
        ),
        "",
        "| page | URL | size (KB) | req/s | p50 (ms) | p99 (ms) "
        "| Werkzeug ceiling req/s | ceiling p99 (ms) | % of ceiling | target | meets targets "
        "| % of gunicorn ceiling | CPU ms per request: page / ceiling | ceiling ÷ page CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|",
    ]
    met = shares = 0
    for name in EMBEDDED_PAGES:
        result: WrkResult = part["results"][name]
        ceiling: WrkResult = part["ceilings"][name]
        ratio = result.requests_per_s / ceiling.requests_per_s
        floor = TARGETS[name]
        target = (f"≥ {floor:.0%} · " if floor else "") + f"p99 ≤ {P99_MAX_MS:g} ms"
        meets = verdict(name, result, ratio)
        met += meets == "yes"
        shares += floor is None or ratio >= floor
        lines.append(
            f"| {name} | `{part['paths'][name]}` | {part['sizes'][name] / 1024:.1f} "
            f"| {result.requests_per_s:,.0f} "
            f"| {result.p50_ms:.2f} | {result.p99_ms:.2f} | {ceiling.requests_per_s:,.0f} "
            f"| {ceiling.p99_ms:.2f} | **{ratio:.0%}** | {target} | {meets} "
            f"| {result.requests_per_s / gunicorn.requests_per_s:.0%} "
            f"| {cpu[name]:.2f} / {cpu['ceiling-' + name]:.2f} "
            f"| {cpu['ceiling-' + name] / cpu[name]:.0%} |"
        )
    return [
        *lines,
        "",
        f"All targets met by {met} of {len(EMBEDDED_PAGES)} pages; the share of the ceiling "
        f"by {shares} of {len(EMBEDDED_PAGES)}. CPU per request: the server process's (all "
        "its threads) from /proc over the warm-up and measured runs, divided by their "
        "requests; on a busy machine it moves less than req/s, and the ceiling's CPU over the "
        "page's is the share of the ceiling the page would reach were the server alone "
        "and CPU-bound.",
        "",
    ]


def report(ctx: dict) -> str:
    lines = _header(ctx)
    if "results" in ctx:
        lines += _storefront(ctx)
    if "cart" in ctx:
        lines += _cart(ctx)
    if ctx.get("orders"):
        lines += _orders(ctx)
    if "embedded" in ctx:
        lines += _embedded(ctx)
    return "\n".join(lines)


# -- the parts ---------------------------------------------------------------------------


def log_result(name: str, result: WrkResult) -> None:
    log(
        f"{name}: {result.requests_per_s:,.0f} req/s, p50 {result.p50_ms:.2f} ms, "
        f"p99 {result.p99_ms:.2f} ms"
        + (f", {result.non_2xx} non-2xx" if result.non_2xx else "")
        + (f", {result.socket_errors} socket errors" if result.socket_errors else "")
    )


def run_storefront(ctx: dict, args: argparse.Namespace, shop: Server, ceiling: Server) -> None:
    urls = {"ceiling": f"{ceiling.base}/", **pick_urls(ctx["database_url"], shop.base)}
    ctx["urls"] = urls
    ctx["ports"] = {n: ceiling.port if n == "ceiling" else shop.port for n in urls}
    ctx["sizes"] = {}
    for name, url in urls.items():
        body, elapsed = fetch(url)
        ctx["sizes"][name] = len(body.encode())
        log(f"{name}: {url} -> 200, {len(body.encode())} bytes, first fetch {elapsed:.3f} s")
    results = {}
    for name, url in urls.items():
        log(f"{name}: wrk {args.warmup}s warm-up + {args.duration}s...")
        results[name] = drive(url, args)[0]
        log_result(name, results[name])
    ctx["results"] = results


LUA_LINE = re.compile(r"^add_to_cart: gets=(\d+) adds=(\d+) failed=(\d+) statuses=(.*)$", re.M)


def _lua_counts(output: str) -> tuple[int, int, int, str]:
    match = LUA_LINE.search(output)
    if not match:
        raise BenchError(f"no add_to_cart line in wrk's output:\n{output}")
    gets, adds, failed, statuses = match.groups()
    return int(gets), int(adds), int(failed), statuses.strip()


def run_cart(
    ctx: dict, args: argparse.Namespace, shop: Server, ceiling: Server, env: dict, tmp: Path
) -> None:
    """Warm-up of both, then rounds of (ceiling, add to cart), so that load from other
    processes on the machine weighs on both alike; CPU of the servers (and of PostgreSQL for
    the shop) is read from /proc around each run."""
    n = args.connections
    prepared = run(
        [
            sys.executable,
            str(BENCH / "cart.py"),
            "prepare",
            f"--carts={n}",
            f"--stock={CART_STOCK}",
            f"--out={tmp}",
        ],
        env,
        timeout=300,
    )
    state = json.loads(prepared.stdout.strip().splitlines()[-1])
    if state["max_per_line"] < CART_MAX_PER_LINE:
        raise BenchError(f"CART_MAX_PER_LINE is {state['max_per_line']} in the shop's env")
    fetch(shop.base + state["page"])
    log(f"cart: variant {state['variant_id']} ({state['sku']}), page {state['page']}, {n} carts")
    lua_env = {
        **os.environ,
        "BENCH_PAGE": state["page"],
        "BENCH_VARIANT": str(state["variant_id"]),
        "BENCH_CART_COOKIES": str(tmp / "cart-cookies.txt"),
    }
    add_url = f"{shop.base}/fr/panier/ajouter"
    shape = {"threads": n, "connections": n}
    lua = {"script": BENCH / "add_to_cart.lua", "env": lua_env}
    log(f"warm-up: ceiling and add to cart, {args.warmup}s each (wrk -t{n} -c{n})")
    wrk_run(f"{ceiling.base}/", args.warmup, latency=False, **shape)
    _, warm = wrk_run(add_url, args.warmup, latency=False, **shape, **lua)
    adds_all = _lua_counts(warm)[1]
    postmaster = postmaster_pid(ctx["database_url"])
    rounds = max(1, args.cart_rounds)
    seconds = max(1, round(args.duration / rounds))
    ceiling_runs, add_runs, cpu = [], [], {"ceiling": 0.0, "shop": 0.0, "postgres": 0.0}
    gets = adds = failed = 0
    statuses: list[str] = []
    round_ratios: list[float] = []
    for number in range(1, rounds + 1):
        before = cpu_seconds(process_tree(ceiling.process.pid))
        result, _ = wrk_run(f"{ceiling.base}/", seconds, **shape)
        cpu["ceiling"] += cpu_seconds(process_tree(ceiling.process.pid)) - before
        ceiling_runs.append(result)
        shop_pids, pg_pids = process_tree(shop.process.pid), process_tree(postmaster)
        before_shop, before_pg = cpu_seconds(shop_pids), cpu_seconds(pg_pids)
        result, output = wrk_run(add_url, seconds, **shape, **lua)
        cpu["shop"] += cpu_seconds(shop_pids) - before_shop
        cpu["postgres"] += cpu_seconds(process_tree(postmaster)) - before_pg
        add_runs.append(result)
        counted = _lua_counts(output)
        round_ratios.append(counted[1] / result.seconds / ceiling_runs[-1].requests_per_s)
        gets, adds, failed = gets + counted[0], adds + counted[1], failed + counted[2]
        if counted[3] != "-":
            statuses.append(counted[3])
        log(
            f"round {number}/{rounds}: ceiling {ceiling_runs[-1].requests_per_s:,.0f} req/s, "
            f"adds {counted[1] / result.seconds:,.0f}/s ({round_ratios[-1]:.1%})"
        )
    adds_all += adds
    check = json.loads(
        run([sys.executable, str(BENCH / "cart.py"), "check", f"--out={tmp}"], env, timeout=120)
        .stdout.strip()
        .splitlines()[-1]
    )
    ceiling_rate = sum(r.requests for r in ceiling_runs) / sum(r.seconds for r in ceiling_runs)
    adds_per_s = adds / sum(r.seconds for r in add_runs)
    ctx["cart"] = {
        **state,
        "connections": n,
        "rounds": rounds,
        "seconds": seconds,
        "ceiling_runs": ceiling_runs,
        "add_runs": add_runs,
        "ceiling_rate": ceiling_rate,
        "round_ratios": round_ratios,
        "gets": gets,
        "adds": adds,
        "failed": failed,
        "statuses": " ".join(statuses) or "-",
        "adds_all": adds_all,
        "adds_per_s": adds_per_s,
        "ratio": adds_per_s / ceiling_rate,
        "cpu_ms": {
            "ceiling": cpu["ceiling"] / sum(r.requests for r in ceiling_runs) * 1000,
            "shop": cpu["shop"] / max(adds, 1) * 1000,
            "postgres": cpu["postgres"] / max(adds, 1) * 1000,
        },
        "check": check,
    }
    log(
        f"add to cart: {adds_per_s:,.0f} adds/s = {adds_per_s / ceiling_rate:.1%} of the "
        f"ceiling ({ceiling_rate:,.0f} req/s); {gets} GETs, {failed} failed "
        f"({ctx['cart']['statuses']}); carts hold {check['units']} units for {adds_all} adds "
        f"counted, {check['carts_made_during_run']} carts made"
    )


def run_orders(ctx: dict, args: argparse.Namespace, part: str, env: dict, tmp: Path) -> None:
    command = [
        sys.executable,
        str(BENCH / "orders.py"),
        "http" if part == "orders-http" else "services",
        f"--threads={args.orders_clients}",
        f"--warmup={args.orders_warmup}",
        f"--duration={args.orders_duration}",
    ]
    server = None
    if part == "orders-procs":
        command.append("--processes=2")
    if part == "orders-http":
        server = start_gunicorn("shop-checkout", CHECKOUT_APP, ROOT, env, args.workers, tmp)
        command += [f"--base={server.base}", f"--server-pid={server.process.pid}"]
    log(f"{part}: {order_run(part, args.orders_clients)}...")
    try:
        done = run(command, env, timeout=args.orders_warmup + args.orders_duration + 300)
    except BenchError as error:
        tail = f"\n-- shop-checkout log tail --\n{server.log_tail()}" if server else ""
        raise BenchError(f"{error}{tail}") from None
    finally:
        if server:
            server.stop()
    for line in done.stderr.splitlines():
        log(f"  {line}")
    ctx["orders"][part] = json.loads(done.stdout.strip().splitlines()[-1])


def base_env(instance: Path) -> dict[str, str]:
    """The shop's environment for this run, without the settings each part chooses."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "DATABASE_URL", "SHOP_ENV", "FLASK_DEBUG", "PORT"}
    }
    env.update(
        SECRET_KEY=SECRET_KEY,
        SETTINGS_ENCRYPTION_KEY=ENCRYPTION_KEY,
        LOG_LEVEL="WARNING",
        SHOP_INSTANCE_PATH=str(instance),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def seed(env: dict[str, str], products: int) -> tuple[float, str]:
    """Migrate and seed the demo shop; the seed's time and its catalogue line."""
    flask = [str(BIN / "flask"), "--app", "shop"]
    run([*flask, "db", "upgrade"], env, timeout=300)
    log("migrated")
    command = [*flask, "shop", "seed-demo"]
    if "--products" not in run([*command, "--help"], env, timeout=120).stdout:
        raise BenchError("`flask shop seed-demo` has no --products option yet")
    # Without REDIS_URL the picture renditions run in-process, inside the timed seed (with it,
    # they would wait in RQ for a worker this run does not start).
    log(f"seeding {products} products...")
    started = time.perf_counter()
    seeded = run([*command, "--products", str(products)], env, timeout=1800)
    elapsed = time.perf_counter() - started
    for line in seeded.stdout.splitlines():
        log(f"  {line}")
    log(f"seeded in {elapsed:.1f} s")
    catalogue = [line for line in seeded.stdout.splitlines() if "catalogue:" in line]
    return elapsed, "; ".join(line.split("catalogue:", 1)[1].strip() for line in catalogue)


def _requests(wrk_output: str) -> int:
    match = re.search(r"^\s*(\d+) requests in", wrk_output, re.MULTILINE)
    return int(match.group(1)) if match else 0


def run_embedded(ctx: dict, args: argparse.Namespace, tmp: Path) -> None:
    """``make run``'s shop on its own SQLite file, served by ``flask shop serve``, against
    the ceiling on the same Werkzeug server (and under gunicorn, for reference)."""
    instance = tmp / "embedded"
    instance.mkdir()
    env = base_env(instance)  # no DATABASE_URL: <instance>/shop.db; no REDIS_URL
    seed_s, catalogue = seed(env, args.embedded_products)
    database_url = f"sqlite:///{instance / 'shop.db'}"
    servers: list[Server] = []
    try:
        port = free_port()
        flask = [str(BIN / "flask"), "--app", "shop", "shop", "serve"]
        shop = start_server(
            "embedded", [*flask, "--host", "127.0.0.1", f"--port={port}"], ROOT, env, port, tmp
        )
        servers.append(shop)
        log(f"embedded: flask shop serve pid {shop.process.pid} on {shop.base}")
        port = free_port()
        ceiling = start_server(
            "ceiling-werkzeug",
            [sys.executable, str(BENCH / "ceiling.py"), f"--port={port}"],
            BENCH,
            env,
            port,
            tmp,
        )
        servers.append(ceiling)
        log(f"ceiling-werkzeug: pid {ceiling.process.pid} on {ceiling.base}")
        gunicorn = start_gunicorn("ceiling-gunicorn", "ceiling:app", BENCH, env, args.workers, tmp)
        servers.append(gunicorn)
        urls = pick_urls(database_url, shop.base)
        sizes = {}
        for name, url in urls.items():
            body, elapsed = fetch(url)
            sizes[name] = len(body.encode())
            if args.accept_encoding:
                sizes[name] = transfer_size(url, args.accept_encoding)
            log(f"{name}: {url} -> 200, {sizes[name]} bytes, fetched in {elapsed:.3f} s")
        log(f"ceiling under gunicorn: wrk {args.warmup}s warm-up + {args.duration}s...")
        gunicorn_result = drive(f"{gunicorn.base}/", args)[0]
        log_result("ceiling (gunicorn)", gunicorn_result)
        gunicorn.stop()
        results, ceilings = {}, {}
        cpu, requests = {}, {}
        for name, url in urls.items():
            before = cpu_seconds([ceiling.process.pid])
            ceilings[name], warm, _ = drive(f"{ceiling.base}/", args)
            cpu[f"ceiling-{name}"] = cpu_seconds([ceiling.process.pid]) - before
            requests[f"ceiling-{name}"] = ceilings[name].requests + _requests(warm)
            log_result(f"ceiling (Werkzeug) before {name}", ceilings[name])
            before = cpu_seconds([shop.process.pid])
            results[name], warm, _ = drive(url, args)
            cpu[name] = cpu_seconds([shop.process.pid]) - before
            requests[name] = results[name].requests + _requests(warm)
            log_result(f"{name} (embedded)", results[name])
            log(
                f"{name}: {results[name].requests_per_s / ceilings[name].requests_per_s:.0%} "
                "of the Werkzeug ceiling"
            )
    except (BenchError, subprocess.SubprocessError) as error:
        tail = "\n".join(f"-- {s.name} log tail --\n{s.log_tail()}" for s in servers)
        raise BenchError(f"{error}\n{tail}") from None
    finally:
        for server in servers:
            server.stop()
    ctx["embedded"] = {
        "products": args.embedded_products,
        "seed_s": seed_s,
        "catalogue": catalogue,
        "paths": {n: u.split(str(shop.port), 1)[1] for n, u in urls.items()},
        "sizes": sizes,
        "results": results,
        "ceilings": ceilings,
        "gunicorn_ceiling": gunicorn_result,
        "cpu_ms": {n: cpu[n] / max(requests[n], 1) * 1000 for n in cpu},
    }


# -- main --------------------------------------------------------------------------------


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"comma-separated parts to run, from {','.join(PARTS)} (default: all)",
    )
    parser.add_argument("--products", type=int, default=10000)
    parser.add_argument(
        "--embedded-products",
        type=int,
        default=EMBEDDED_PRODUCTS,
        help="embedded: demo products seeded on SQLite (default: make run's 240)",
    )
    parser.add_argument("--duration", type=int, default=15, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per page")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--connections", type=int, default=4, help="wrk connections (cart: shoppers)"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument(
        "--cart-rounds",
        type=int,
        default=3,
        help="cart: rounds of (ceiling, add to cart), --duration split between them",
    )
    parser.add_argument(
        "--accept-encoding",
        default="",
        help="storefront, embedded: send this Accept-Encoding with each page request "
        "(e.g. 'gzip, br'; default: none, bodies uncompressed)",
    )
    parser.add_argument("--orders-clients", type=int, default=8)
    parser.add_argument("--orders-duration", type=int, default=15)
    parser.add_argument("--orders-warmup", type=int, default=2)
    args = parser.parse_args()
    parts = [part.strip() for part in args.only.split(",") if part.strip()]
    if unknown := set(parts) - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}; known: {', '.join(PARTS)}")

    if shutil.which("wrk") is None and {"storefront", "cart", "embedded"} & set(parts):
        log("wrk is missing: apt-get install -y wrk (or make system-deps-test)")
        return 2
    # SIGTERM (e.g. from a CI timeout) unwinds like Ctrl-C, so the finally block runs.
    signal.signal(signal.SIGTERM, _interrupt)

    ctx: dict = {
        "args": args,
        "parts": [part for part in PARTS if part in parts],
        "started": datetime.now(UTC),
        "load_before": loadavg(),
        "part_loads": {},
        "orders": {},
    }
    log(f"load average before the run: {ctx['load_before']}")
    with contextlib.ExitStack() as cleanup:
        tmp = Path(tempfile.mkdtemp(prefix="comptoir-bench-"))
        cleanup.callback(shutil.rmtree, tmp, ignore_errors=True)
        try:
            return _run(args, ctx, tmp, cleanup)
        except BenchError as error:
            log(f"FAILED: {error}")
            return 1
        except KeyboardInterrupt:
            log("interrupted; stopping what was started")
            return 130
        finally:
            log("cleaning up")
    return 1


def _run_production(
    args: argparse.Namespace, ctx: dict, tmp: Path, cleanup: contextlib.ExitStack
) -> None:
    postgres = start_postgres()
    cleanup.callback(postgres.stop)
    redis = start_redis()
    cleanup.callback(redis.stop)
    log(f"PostgreSQL on port {postgres.port}, Redis on port {redis.port}")
    ctx["database_url"] = postgres.url

    instance = tmp / "instance"
    instance.mkdir()
    env = {**base_env(instance), "DATABASE_URL": postgres.url}
    ctx["seed_s"], ctx["catalogue"] = seed(env, args.products)

    shop_env = {**env, "REDIS_URL": redis.url, "CART_MAX_PER_LINE": str(CART_MAX_PER_LINE)}
    shop = start_gunicorn("shop", "shop:create_app()", ROOT, shop_env, args.workers, tmp)
    cleanup.callback(shop.stop)
    ceiling_env = {k: v for k, v in env.items() if k not in {"DATABASE_URL"}}
    ceiling = start_gunicorn("ceiling", "ceiling:app", BENCH, ceiling_env, args.workers, tmp)
    cleanup.callback(ceiling.stop)

    try:
        for part in (part for part in ctx["parts"] if part in PRODUCTION_PARTS):
            ctx["part_loads"][part] = loadavg()
            log(f"== {part} (load average {ctx['part_loads'][part]})")
            if part == "storefront":
                run_storefront(ctx, args, shop, ceiling)
            elif part == "cart":
                run_cart(ctx, args, shop, ceiling, shop_env, tmp)
            else:
                run_orders(ctx, args, part, shop_env, tmp)
    except (BenchError, subprocess.SubprocessError) as error:
        raise BenchError(f"{error}\n-- shop log tail --\n{shop.log_tail()}") from None
    finally:
        shop.stop()
        ceiling.stop()


def _run(args: argparse.Namespace, ctx: dict, tmp: Path, cleanup: contextlib.ExitStack) -> int:
    if any(part in PRODUCTION_PARTS for part in ctx["parts"]):
        _run_production(args, ctx, tmp, cleanup)
    if "embedded" in ctx["parts"]:
        ctx["part_loads"]["embedded"] = loadavg()
        log(f"== embedded (load average {ctx['part_loads']['embedded']})")
        run_embedded(ctx, args, tmp)

    ctx["load_after"] = loadavg()
    ctx["facts"] = machine_facts()
    ctx["git"] = git_state()
    text = report(ctx)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(text)
    (RESULTS / f"{ctx['started']:%Y%m%d-%H%M%S}.md").write_text(text)
    print(text)
    log(f"written to {(RESULTS / 'latest.md').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
