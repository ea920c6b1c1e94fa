"""Invoice downloads: the order's access token (the confirmation link) opens its PDFs; a
signed-in customer gets the same files from their account (``shop.web.account.orders``).

The files sit in the private ``instance/invoices`` folder; ``send_document`` is their only
way out.
"""

from __future__ import annotations

from flask import abort, g, send_file
from werkzeug.wrappers import Response

from shop.i18n import localized_route
from shop.invoices.models import Invoice
from shop.invoices.pdf import render_pdf
from shop.orders import customer_queries
from shop.orders import services as orders
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
    return send_document(invoice)


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
