"""The documents box of an order page (``orders/_documents.html``): on the customer's
order page in their account and on the guest confirmation page, each with its own links;
and the PDF behind each link (the guest's token link and the account's both send it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import g, request, send_file
from werkzeug.wrappers import Response

from shop.invoices.models import Invoice
from shop.invoices.pdf import render_pdf
from shop.orders.customer_queries import Document
from shop.orders.models import Order, OrderStatus

MAX_POLLS = 60  # the "being prepared" box asks every 5 s, for 5 minutes at most


def documents_context(
    order: Order,
    documents: list[Document],
    url_of: Callable[[Document], str],
    page_url: str,
) -> dict[str, Any]:
    """What ``orders/_documents.html`` needs: the documents and their links, and while a paid
    order's invoice is being issued by the worker, where and whether to ask again."""
    raw = request.args.get("poll", "0")
    polls = int(raw) if raw.isdigit() and len(raw) < 4 else 0
    preparing = not documents and order.paid_at is not None
    return {
        "documents": [(document, url_of(document)) for document in documents],
        "preparing": preparing,
        "awaiting_payment": not documents and order.status == OrderStatus.PENDING_PAYMENT,
        "page_url": page_url,
        "poll_url": f"{page_url}?poll={polls + 1}" if preparing and polls < MAX_POLLS else None,
    }


def send_document(invoice: Invoice) -> Response:
    """The stored PDF (rendered first if the worker has not yet); the French pages give the
    French copy, since French is always available."""
    filename = invoice.filename
    path = render_pdf(invoice.id, "fr" if g.lang == "fr" else None)
    response = send_file(
        path, mimetype="application/pdf", download_name=filename, conditional=False, etag=False
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Content-Disposition"] = f"inline; filename={filename}"
    return response
