"""Invoice PDF render time (issue 5 target: p50 ≤ 150 ms), p50 and p95 in milliseconds.

    .venv/bin/python bench/invoices.py [--invoices 50 --warmup 3 --no-freeze]

Uses the shop's environment (``DATABASE_URL``...) when set; otherwise starts a throwaway
PostgreSQL (``tests/services.py``) and migrates it. It places and pays ``--invoices``
French orders of 1 to 3 lines (bank transfer), issues their invoices, then times
``render_pdf`` for each: template, WeasyPrint layout, PDF written to disk, SHA-256 stored and
committed. The first ``--warmup`` renders (fonts loaded, templates compiled) are timed
separately. Besides wall-clock time it reports the CPU time of the rendering thread
(``cpu_p50_ms``): on a machine shared with other work the wall time includes waiting for a
CPU, the CPU time does not.

Before timing, the process does what ``worker.py`` does before it forks a work horse
(``shop.jobs.preload``: job modules, fonts and stylesheet loaded, then ``gc.freeze()``), so
the figures are the worker's. ``--no-freeze`` skips the freeze: every render that happens to
trigger a full garbage collection then also walks the whole heap (orders, SQLAlchemy,
WeasyPrint's modules), about 130 ms on this machine, which shows in p95.

Prints one JSON object on its last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-freeze", dest="freeze", action="store_false")
    args = parser.parse_args()

    postgres = None
    if not os.environ.get("DATABASE_URL"):
        from tests import services

        postgres = services.start_postgres()
        os.environ["DATABASE_URL"] = postgres.url
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
    os.environ.setdefault("SHOP_INSTANCE_PATH", tempfile.mkdtemp(prefix="bench-invoices-"))
    try:
        print(json.dumps(run(args.invoices, args.warmup, args.freeze)))
    finally:
        if postgres is not None:
            postgres.stop()


def run(count: int, warmup: int, freeze: bool = True) -> dict[str, object]:
    import flask_migrate

    from shop import create_app
    from shop.cart.models import Cart, CartItem
    from shop.catalogue.models import Product, ProductStatus, ProductVariant
    from shop.checkout import services as checkout
    from shop.checkout.defaults import load_defaults
    from shop.checkout.services import CheckoutDetails
    from shop.extensions import db
    from shop.inventory.services import receive
    from shop.invoices import pdf
    from shop.invoices import services as invoices
    from shop.invoices.models import Invoice
    from shop.jobs import preload
    from shop.orders import services as orders
    from shop.queue import wait_for_inprocess_jobs
    from tests import catalogue_factory
    from tests.test_orders import ADDRESS

    app = create_app()
    rng = random.Random(2026)
    with app.app_context():
        flask_migrate.upgrade()
        if not db.session.execute(db.select(ProductVariant.id).limit(1)).first():
            catalogue_factory.build(12)
        load_defaults()
        invoices.load_demo_identity()
        variants = list(
            db.session.execute(
                db.select(ProductVariant.id)
                .join(Product, Product.id == ProductVariant.product_id)
                .where(Product.status == ProductStatus.ACTIVE)
            ).scalars()
        )
        for variant_id in variants:
            receive(variant_id, 10 * (count + warmup), reason="bench invoices")
        issued = []
        for _ in range(count + warmup):
            cart = Cart(token=secrets.token_urlsafe(16), locale="fr")
            cart.items = [
                CartItem(variant_id=v, quantity=rng.randint(1, 3), unit_price=0)
                for v in rng.sample(variants, rng.randint(1, 3))
            ]
            db.session.add(cart)
            db.session.commit()
            checkout.start_checkout(cart.id)
            order = checkout.place_order(
                cart.id,
                CheckoutDetails(
                    email="camille@example.com",
                    shipping_address=ADDRESS,
                    billing_address=ADDRESS,
                    shipping_method="colissimo",
                    payment_method="bank_transfer",
                    locale="fr",
                ),
            )
            orders.mark_paid(order.id, provider="bank_transfer")
            issued.append(invoices.issue_invoice(order.id).id)
        # The payment-received mails render their invoices on the in-process job thread:
        # let them finish, then forget those files so every render below is a fresh one
        # with the CPU to itself.
        wait_for_inprocess_jobs(app)
        db.session.execute(
            db.update(Invoice).where(Invoice.id.in_(issued)).values(pdf_path=None, sha256=None)
        )
        db.session.commit()
        if freeze:
            preload(app)
        timings, cpu = [], []
        for invoice_id in issued:
            started, started_cpu = time.perf_counter(), time.thread_time()
            pdf.render_pdf(invoice_id)
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.thread_time() - started_cpu) * 1000)
    warm, measured, measured_cpu = timings[:warmup], timings[warmup:], cpu[warmup:]
    return {
        "benchmark": "invoice_pdf_render",
        "invoices": len(measured),
        "warmup_ms": [round(t, 1) for t in warm],
        "p50_ms": round(statistics.median(measured), 1),
        "p95_ms": round(percentile(measured, 0.95), 1),
        "max_ms": round(max(measured), 1),
        "cpu_p50_ms": round(statistics.median(measured_cpu), 1),
        "cpu_p95_ms": round(percentile(measured_cpu, 0.95), 1),
        "target_p50_ms": 150,
        "gc_frozen": freeze,
    }


if __name__ == "__main__":
    main()
