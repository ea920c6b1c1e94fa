"""Lighthouse 12 (mobile) on the storefront's page types, served by gunicorn as in production.

    .venv/bin/python bench/lighthouse.py [--base URL] [--lang fr] [--runs 1]

Without ``--base`` it seeds the embedded demo shop (SQLite, no Redis: what ``make run``
serves) in a temporary instance, serves it with gunicorn (2 sync workers) on a free
loopback port, and measures: home, a category, a product, a search, the cart holding one
product, and the checkout details page. Lighthouse comes from the npm registry
(``bench/lighthouse/package.json``, installed under ``bench/lighthouse/node_modules`` on
first use) and drives Debian's Chromium (``CHROME_PATH``, default ``/usr/bin/chromium``).
Scores are printed as a table (0-100, the median of ``--runs``) and the reports are kept
under ``bench/results/lighthouse/``. Not part of the test suite: Lighthouse's performance
score is a simulation that depends on the machine's load.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "bench" / "lighthouse"
RESULTS = ROOT / "bench" / "results" / "lighthouse"
BIN = Path(sys.executable).parent  # the venv running this script (a worktree has none of its own)
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
METRICS = ("largest-contentful-paint", "total-blocking-time")  # milliseconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lighthouse_bin() -> Path:
    binary = HERE / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=HERE, check=True
        )
    return binary


def serve_demo(workdir: Path) -> tuple[subprocess.Popen, str]:
    env = {
        **os.environ,
        "FLASK_APP": "shop",
        "SHOP_INSTANCE_PATH": str(workdir),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),  # this checkout's code, not the one the venv was installed from
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    flask = [str(BIN / "flask")]
    subprocess.run([*flask, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    subprocess.run([*flask, "shop", "seed-demo", "--if-empty"], env=env, cwd=ROOT, check=True)
    port = free_port()
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "shop:create_app()",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2)
            return server, base
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("gunicorn did not answer")


def first_link(html: str, prefix: str) -> str:
    match = re.search(rf'href="({re.escape(prefix)}[^"?#]+)"', html)
    if match is None:
        raise RuntimeError(f"no link starting with {prefix}")
    return match.group(1)


def pages(base: str, lang: str) -> tuple[dict[str, str], str]:
    """The page of each type to measure, and a Cookie header for a cart holding one product."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    words = {
        "fr": ("categories", "produits", "recherche?q=chaise", "panier", "commande"),
        "en": ("categories", "products", "search?q=chair", "cart", "checkout"),
    }[lang]
    home = opener.open(f"{base}/{lang}/").read().decode()
    category = first_link(home, f"/{lang}/{words[0]}/")
    listing = opener.open(base + category).read().decode()
    product = first_link(listing, f"/{lang}/{words[1]}/")
    page = opener.open(base + product).read().decode()
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    variant = re.search(r'name="variant_id" value="(\d+)"', page).group(1)
    data = urllib.parse.urlencode({"csrf_token": token, "variant_id": variant, "quantity": "1"})
    opener.open(f"{base}/{lang}/{words[3]}/{'ajouter' if lang == 'fr' else 'add'}", data.encode())
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return {
        "home": f"{base}/{lang}/",
        "category": base + category,
        "product": base + product,
        "search": f"{base}/{lang}/{words[2]}",
        "cart": f"{base}/{lang}/{words[3]}",
        "checkout": f"{base}/{lang}/{words[4]}",
    }, cookie


def warm(urls: dict[str, str], cookie: str) -> None:
    """Each page asked for a few times first, so that every gunicorn worker has rendered
    (and cached) it: the figures are those of a running shop, not of a page's first
    render after start-up (the embedded demo has no shared Redis page cache)."""
    for name, url in urls.items():
        headers = {"Cookie": cookie} if name in ("cart", "checkout") else {}
        for _ in range(6):
            urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30).read()


def measure(binary: Path, url: str, cookie: str | None, name: str, run: int) -> dict[str, float]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = RESULTS / f"{name}-{run}.json"
    command = [
        str(binary),
        url,
        "--quiet",
        "--output=json",
        f"--output-path={report}",
        "--chrome-flags=--headless=new --no-sandbox",
    ]
    if cookie:
        command.append("--extra-headers=" + json.dumps({"Cookie": cookie}))
    env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)
    result = json.loads(report.read_text())
    scores = {key: round(result["categories"][key]["score"] * 100) for key in CATEGORIES}
    audits = result["audits"]
    metrics = {key: audits[key]["numericValue"] for key in METRICS}
    return scores | metrics


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="a running shop (default: serve the embedded demo)")
    parser.add_argument("--lang", default="fr", choices=("fr", "en"))
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--only", nargs="*", help="page types to measure (default: all six)")
    args = parser.parse_args()
    binary = lighthouse_bin()
    server, workdir = None, None
    try:
        if args.base:
            base = args.base.rstrip("/")
        else:
            workdir = Path(tempfile.mkdtemp(prefix="comptoir-lighthouse-"))
            server, base = serve_demo(workdir)
        urls, cookie = pages(base, args.lang)
        warm(urls, cookie)
        print(
            f"{'page':10} "
            + " ".join(f"{c:>15}" for c in CATEGORIES)
            + f" {'LCP ms':>7} {'TBT ms':>7}"
        )
        for name, url in urls.items():
            if args.only and name not in args.only:
                continue
            needs_cart = name in ("cart", "checkout")
            runs = [
                measure(binary, url, cookie if needs_cart else None, name, n)
                for n in range(args.runs)
            ]
            med = {c: statistics.median(r[c] for r in runs) for c in CATEGORIES + METRICS}
            print(
                f"{name:10} "
                + " ".join(f"{int(med[c]):>15}" for c in CATEGORIES)
                + "".join(f" {med[m]:>7.0f}" for m in METRICS),
                flush=True,
            )
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
