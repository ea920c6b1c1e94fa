"""Invoice downloads: the order's access token (the confirmation link) opens its PDFs; a
signed-in customer gets the same files from their account (``shop.web.account.orders``).

The files sit in the private ``instance/invoices`` folder; ``send_document`` is their only
way out. A request never renders a PDF: one not rendered yet answers 202 with the "being
prepared" box (and asks the worker for it), and the page asks again by itself.
"""

from __future__ import annotations

from flask import abort, g, request, send_file, url_for
from werkzeug.wrappers import Response

from shop import queue
from shop.i18n import localized_route
from shop.invoices.models import Invoice
from shop.invoices.pdf import stored_pdf
from shop.orders import customer_queries
from shop.orders import services as orders
from shop.web.htmx import render
from shop.web.invoices import bp


@localized_route(
    bp,
    {
        "fr": "/commande/<token>/facture/<int:invoice_id>.pdf",
        "en": "/checkout/<token>/invoice/<int:invoice_id>.pdf",
    },
)
def download(token: str, invoice_id: int) -> Response:
    order = orders.order_for_token(token)
    invoice = customer_queries.document_of(order.id, invoice_id) if order else None
    if invoice is None:
        abort(404)
    return send_document(invoice, url_for("checkout.confirmation", token=token))


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
    if invoice.pdf_path is None:  # not rendered yet: its job is queued or running
        queue.enqueue("shop.jobs.render_pending_documents")
    else:  # a courtesy copy never asked for, or a file lost from disk
        queue.enqueue("shop.jobs.render_document", invoice.id, locale)
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
