"""Rendering an issued invoice to PDF with WeasyPrint, from its snapshot alone.

Files live under ``<instance>/invoices/`` (private: no route serves that folder; customers
get a PDF through ``invoices.download``, which checks the order's access token). The PDF in
the invoice's own language is the document of record: written once, its path and SHA-256
stored on the row. Other languages (French is always available) are courtesy copies kept
next to it and never recorded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel import Locale
from babel.numbers import format_decimal
from flask import current_app
from flask_babel import force_locale, format_date
from markupsafe import Markup
from PIL import ImageFile

from shop.config import LOCALES
from shop.extensions import db
from shop.invoices.models import Invoice

log = logging.getLogger("shop.invoices")
TEMPLATE = "invoices/invoice.html"
STYLESHEET = "invoices/invoice.css"


class _Toolkit(threading.local):
    """WeasyPrint's ``HTML``, one font configuration and the parsed invoice stylesheet, made
    once per thread (fonts found and CSS parsed once, not per invoice). ``worker.py`` makes
    them before forking (``warm_up``), so every work horse starts with them in memory."""

    html: Any = None
    fonts: Any = None
    stylesheet: Any = None


_toolkit = _Toolkit()


def warm_up() -> None:
    """Import WeasyPrint, load the fonts and parse the stylesheet now (in an app context).

    Importing WeasyPrint turns on Pillow's process-wide LOAD_TRUNCATED_IMAGES; product
    uploads must refuse truncated files, and invoices carry no raster image, so it is
    turned back off."""
    if _toolkit.html is not None:
        return
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    fonts = FontConfiguration()
    source, _, _ = current_app.jinja_loader.get_source(current_app.jinja_env, STYLESHEET)
    _toolkit.stylesheet = CSS(string=source, font_config=fonts)
    _toolkit.fonts = fonts
    _toolkit.html = HTML


WARM_UP_SAMPLE = Path(__file__).with_name("warm_up_sample.json")


def warm_up_layout() -> bool:
    """Lay out a sample invoice once, in memory (nothing written, no database): the first
    layout in a process costs about four times the next ones (Pango and HarfBuzz caches,
    font subsetting code), and the worker calls this before forking, so every work horse
    starts warm. The sample is a snapshot like ``invoice_data``'s (a test keeps their keys
    alike). False when it could not be laid out (logged: a warm-up never stops the worker)."""
    warm_up()
    try:
        data = json.loads(WARM_UP_SAMPLE.read_text(encoding="utf-8"))
        for locale in LOCALES:
            render_bytes(data, data["kind"], locale)
    # Any failure only means a slower first render: it must not stop the worker starting.
    except Exception as error:
        log.warning("invoice layout warm-up failed", extra={"error": repr(error)})
        return False
    return True


def invoices_root() -> Path:
    return Path(current_app.instance_path) / "invoices"


def _relative_path(invoice: Invoice, locale: str) -> str:
    suffix = "" if locale == invoice.locale else f".{locale}"
    return f"{invoice.year}/{invoice.series}/{invoice.full_number}{suffix}.pdf"


def render_pdf(invoice_id: int, locale: str | None = None) -> Path:
    """The invoice's PDF, rendered on the first call and read from disk afterwards.

    Rendering holds no lock and no transaction (the snapshot never changes); the document
    of record is then written under the invoice's row lock, once: a worker that finds it
    written meanwhile keeps that file and drops its own copy. A file lost from disk is
    rendered again from the same snapshot (and logged).
    """
    invoice = db.session.execute(
        db.select(Invoice).where(Invoice.id == invoice_id).execution_options(populate_existing=True)
    ).scalar_one()
    locale = locale or invoice.locale
    if locale not in LOCALES:
        raise ValueError(f"no invoice layout in {locale!r}")
    relative = _relative_path(invoice, locale)
    path = invoices_root() / relative
    of_record = locale == invoice.locale
    if path.exists() and (not of_record or invoice.pdf_path == relative):
        db.session.rollback()
        return path
    if of_record and invoice.pdf_path:
        log.warning("invoice PDF missing, rendered again", extra={"invoice": invoice.full_number})
    data, kind = invoice.data, invoice.kind
    db.session.rollback()
    content = render_bytes(data, kind, locale)
    if not of_record:
        _write_atomically(path, content)
        return path
    invoice = db.session.execute(
        db.select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    if invoice.pdf_path == relative and path.exists():
        db.session.rollback()
        return path
    _write_atomically(path, content)
    invoice.pdf_path = relative
    invoice.sha256 = hashlib.sha256(content).hexdigest()
    db.session.commit()
    return path


def render_bytes(data: dict[str, Any], kind: str, locale: str) -> bytes:
    warm_up()
    with force_locale(locale):
        html = current_app.jinja_env.get_template(TEMPLATE).render(
            **template_context(data, kind, locale)
        )
    document = _toolkit.html(string=html, base_url=str(invoices_root()))
    return document.write_pdf(stylesheets=[_toolkit.stylesheet], font_config=_toolkit.fonts)


def template_context(data: dict[str, Any], kind: str, locale: str) -> dict[str, Any]:
    def when(iso: str | None) -> str:
        return format_date(datetime.fromisoformat(iso), "long") if iso else ""

    def rate(rate_ppm: int) -> str:
        # 20, 5,5 / 5.5, 9,975 / 9.975: up to four decimals, as a rate in ppm has.
        number = format_decimal(Decimal(rate_ppm) / 10_000, format="0.####", locale=locale)
        return f"{number}\u202f%" if locale == "fr" else f"{number}%"

    def tax_name(tax: dict[str, Any]) -> str:
        name = tax["name"][locale]
        return name if "%" in name else f"{name} {rate(tax['rate_ppm'])}"

    def rates(items: list[dict[str, Any]]) -> str:
        if len(items) == 1:
            return rate(items[0]["rate_ppm"])
        return " + ".join(f"{r[locale]} {rate(r['rate_ppm'])}" for r in items)

    def country_name(code: str) -> str:
        return Locale.parse(locale).territories.get(code, code)

    destination = data["destination"]
    return {
        "country_name": country_name,
        "css_string": css_string,
        "data": data,
        "lang": locale,
        "kind": kind,
        "when": when,
        "rates": rates,
        "tax_name": tax_name,
        "currency": data["currency"],
        "canada": destination["country"] == "CA",
        "quebec": destination["country"] == "CA" and destination["region"] == "QC",
    }


def css_string(text: str) -> Markup:
    """A quoted CSS string (for ``content:`` in the page margins): the ``<style>`` element
    is raw text, so HTML escaping would print entities; CSS escapes are used instead."""
    escaped = "".join(f"\\{ord(c):x} " if c in '"\\<>&\n' else c for c in text)
    return Markup(f'"{escaped}"')  # noqa: S704  (escaped above, for CSS)


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pdf")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
