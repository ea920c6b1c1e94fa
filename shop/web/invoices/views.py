"""Invoice downloads: the order's access token (the confirmation link) opens its PDFs.

The files sit in the private ``instance/invoices`` folder; this view is their only way out.
"""

from __future__ import annotations

from flask import abort, g, send_file
from werkzeug.wrappers import Response

from shop.extensions import db
from shop.i18n import localized_route
from shop.invoices.models import Invoice
from shop.invoices.pdf import render_pdf
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
    """The stored PDF (rendered first if the worker has not yet); the French pages give the
    French copy, since French is always available."""
    order = orders.order_for_token(token)
    invoice = db.session.get(Invoice, invoice_id)
    if order is None or invoice is None or invoice.order_id != order.id:
        abort(404)
    filename = invoice.filename
    path = render_pdf(invoice.id, "fr" if g.lang == "fr" else None)
    response = send_file(
        path, mimetype="application/pdf", download_name=filename, conditional=False, etag=False
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Content-Disposition"] = f"inline; filename={filename}"
    return response
