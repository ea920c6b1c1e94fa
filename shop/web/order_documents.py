"""The documents box of an order page (``orders/_documents.html``): on the customer's
order page in their account and on the guest confirmation page, each with its own links;
and the PDF behind each link (the guest's token link and the account's both send it). A
request never renders a PDF: one not rendered yet answers 202 with the "being prepared"
box (and asks the worker for it), and the page asks again by itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import g, request, send_file
from werkzeug.wrappers import Response

from shop.invoices.models import Invoice
from shop.invoices.pdf import ask_for, stored_pdf
from shop.invoices.queries import Document
from shop.orders.models import Order, OrderStatus
from shop.web.htmx import render

MAX_POLLS = 60  # the "being prepared" box asks every 5 s, for 5 minutes at most


def documents_context(
    order: Order,
    documents: list[Document],
    url_of: Callable[[Document], str],
    page_url: str,
) -> dict[str, Any]:
    """What ``orders/_documents.html`` needs: the documents whose PDF is ready and their
    links, and while a paid order's invoice (or a credit note) is being issued or rendered by
    the worker, where and whether to ask again."""
    raw = request.args.get("poll", "0")
    polls = int(raw) if raw.isdigit() and len(raw) < 4 else 0
    ready = [document for document in documents if document.ready]
    preparing = order.paid_at is not None and (not documents or len(ready) < len(documents))
    return {
        "documents": [(document, url_of(document)) for document in ready],
        "preparing": preparing,
        "awaiting_payment": not documents and order.status == OrderStatus.PENDING_PAYMENT,
        "page_url": page_url,
        "poll_url": f"{page_url}?poll={polls + 1}" if preparing and polls < MAX_POLLS else None,
    }


RETRY_SECONDS = 5


def send_document(invoice: Invoice, order_url: str) -> Response:
    """The stored PDF; the French pages give the French copy, since French is always
    available. Not rendered yet: the "being prepared" page, and a job to render it."""
    filename = invoice.filename
    locale = "fr" if g.lang == "fr" else invoice.locale
    path = stored_pdf(invoice, locale)
    if path is None:
        return _being_prepared(invoice, locale, order_url)
    response = send_file(
        path, mimetype="application/pdf", download_name=filename, conditional=False, etag=False
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Content-Disposition"] = f"inline; filename={filename}"
    return response


def _being_prepared(invoice: Invoice, locale: str, order_url: str) -> Response:
    ask_for(invoice, locale)
    response = render(
        "invoices/preparing.html",
        documents=[],
        preparing=True,
        awaiting_payment=False,
        page_url=request.path,
        poll_url=None,
        order_url=order_url,
    )
    response.status_code = 202
    response.headers["Retry-After"] = str(RETRY_SECONDS)
    response.headers["Refresh"] = str(RETRY_SECONDS)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
