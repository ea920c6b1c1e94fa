"""Invoice downloads: the order's access token (the confirmation link) opens its PDFs; a
signed-in customer gets the same files from their account (``shop.web.account.orders``).

The files sit in the private ``instance/invoices`` folder;
``shop.web.order_documents.send_document`` is their only way out, and never renders one.
"""

from __future__ import annotations

from flask import abort, url_for
from werkzeug.wrappers import Response

from shop.i18n import localized_route
from shop.invoices import queries as invoice_queries
from shop.orders import services as orders
from shop.web.invoices import bp
from shop.web.order_documents import send_document


@localized_route(
    bp,
    {
        "fr": "/commande/<token>/facture/<int:invoice_id>.pdf",
        "en": "/checkout/<token>/invoice/<int:invoice_id>.pdf",
    },
)
def download(token: str, invoice_id: int) -> Response:
    order = orders.order_for_token(token)
    invoice = invoice_queries.document_of(order.id, invoice_id) if order else None
    if invoice is None:
        abort(404)
    return send_document(invoice, url_for("checkout.confirmation", token=token))
