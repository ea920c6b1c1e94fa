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

from shop import queue, sql
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


def stored_pdf(invoice: Invoice, locale: str | None = None) -> Path | None:
    """The PDF already rendered for ``invoice`` in ``locale`` (default: the document of
    record), or None: what downloads and the mailer use. They never render: that is the
    jobs' work (``render_pending``, ``render_pdf``)."""
    locale = locale or invoice.locale
    if locale not in LOCALES:
        raise ValueError(f"no invoice layout in {locale!r}")
    relative = _relative_path(invoice, locale)
    if locale == invoice.locale and invoice.pdf_path != relative:
        return None
    path = invoices_root() / relative
    return path if path.exists() else None


def ask_for(invoice: Invoice, locale: str | None = None) -> None:
    """Ask the worker for a PDF a request found missing (``stored_pdf`` gave None): the
    pending documents' job when the document of record is not rendered yet, else a job for
    this one file (a courtesy copy never asked for, or a file lost from disk)."""
    if invoice.pdf_path is None:
        queue.enqueue("shop.jobs.render_pending_documents")
    else:
        queue.enqueue("shop.jobs.render_document", invoice.id, locale or invoice.locale)


def pending_ids(limit: int = 100) -> list[int]:
    """Issued documents whose PDF of record is not rendered yet, oldest first."""
    return list(
        db.session.scalars(
            db.select(Invoice.id)
            .where(Invoice.pdf_path.is_(None))
            .order_by(Invoice.id)
            .limit(limit)
        )
    )


def render_pending(limit: int = 100) -> int:
    """Render the PDF of record of every document issued without one (the job deferred by
    the outbox handler that issued it, and the periodic sweep). Returns how many this call
    rendered: a document another worker is rendering is left to it."""
    ids = pending_ids(limit)
    db.session.rollback()
    return sum(_render_of_record(invoice_id) is not None for invoice_id in ids)


def render_pdf(invoice_id: int, locale: str | None = None) -> Path:
    """The invoice's PDF in ``locale``, rendered if it is not on disk (in a job: requests
    read ``stored_pdf``). The document of record is rendered under the invoice's row lock,
    once; a courtesy copy in another language is written next to it, never recorded. A file
    lost from disk is rendered again from the same snapshot (and logged)."""
    invoice = db.session.execute(
        db.select(Invoice).where(Invoice.id == invoice_id).execution_options(populate_existing=True)
    ).scalar_one()
    locale = locale or invoice.locale
    found = stored_pdf(invoice, locale)
    if found is not None:
        db.session.rollback()
        return found
    if locale == invoice.locale:
        db.session.rollback()
        path = _render_of_record(invoice_id, wait=True)
        assert path is not None
        return path
    data, kind, path = invoice.data, invoice.kind, invoices_root() / _relative_path(invoice, locale)
    db.session.rollback()
    _write_atomically(path, render_bytes(data, kind, locale))
    return path


def _render_of_record(invoice_id: int, *, wait: bool = False) -> Path | None:
    """Render and record the document of record, once. Returns its path (None: the invoice
    is gone, or, with ``wait=False``, another worker holds it and renders it).

    On PostgreSQL the invoice's row stays locked from the check to the commit, so no two
    workers render it. On SQLite (the embedded default: one in-process runner renders, one
    job at a time) no transaction is held while rendering: a write at its end would fail
    once another connection had written meanwhile; the row is read again under the write
    and a copy recorded meanwhile is kept.
    """
    invoice = _claim(invoice_id, skip_locked=not wait)
    if invoice is None:
        db.session.rollback()
        return None
    relative = _relative_path(invoice, invoice.locale)
    path = invoices_root() / relative
    if invoice.pdf_path == relative and path.exists():
        db.session.rollback()
        return path if wait else None
    if invoice.pdf_path:
        log.warning("invoice PDF missing, rendered again", extra={"invoice": invoice.full_number})
    data, kind, locale = invoice.data, invoice.kind, invoice.locale
    held = sql.is_postgresql()
    if not held:
        db.session.rollback()
    content = render_bytes(data, kind, locale)
    if not held:
        invoice = _claim(invoice_id, skip_locked=False)
        if invoice is None or (invoice.pdf_path == relative and path.exists()):
            db.session.rollback()
            return path if invoice is not None else None
    _write_atomically(path, content)
    invoice.pdf_path = relative
    invoice.sha256 = hashlib.sha256(content).hexdigest()
    db.session.commit()
    return path


def _claim(invoice_id: int, *, skip_locked: bool) -> Invoice | None:
    return db.session.execute(
        db.select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


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
