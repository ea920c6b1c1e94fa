"""The ceiling: a Flask + Jinja page with no database, no cache, no session, no extensions.

It renders ``templates/ceiling.html`` (about 11 KB: a header, a navigation bar, 24 product
cards with static text, a footer), so its throughput under gunicorn is the most any real
Flask page can reach on this machine. ``bench/run.py`` serves it as ``ceiling:app`` with
gunicorn, and for the embedded part with ``python bench/ceiling.py --port N``: Werkzeug's
threaded server, the one ``flask shop serve`` (``make run``) runs.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, render_template

FAMILIES = ("Chaise", "Tasse", "Plaid", "Carnet", "Lampe", "Bol")
MATERIALS = ("en chêne massif", "en grès émaillé", "en lin lavé", "en papier recyclé")

CARDS = [
    {
        "title": f"{FAMILIES[i % len(FAMILIES)]} {MATERIALS[i % len(MATERIALS)]} n° {i + 1}",
        "slug": f"produit-{i + 1:04d}",
        "price": f"{19 + 7 * i},{(i * 37) % 100:02d} €",
        "was": f"{29 + 7 * i},00 €" if i % 5 == 0 else None,
        "stock": i % 7 != 3,
        "image": f"/media/demo/{i % 12:02d}",
    }
    for i in range(24)
]

app = Flask(__name__, template_folder=str(Path(__file__).resolve().parent / "templates"))


@app.get("/")
def page() -> str:
    return render_template(
        "ceiling.html", title="Cuisine et arts de la table", cards=CARDS, lang="fr"
    )


if __name__ == "__main__":
    # The ceiling for `make run`'s server: the same threaded Werkzeug server `flask shop
    # serve` runs (it logs one line per request to stderr, as the shop's server does).
    import argparse

    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description="serve the ceiling with Werkzeug, threaded")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    run_simple(options.host, options.port, app, threaded=True, use_reloader=False)
