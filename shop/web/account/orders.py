"""The customer's orders in their account: the list, one order (lines, totals, addresses,
shipments with their tracking links, invoices and credit notes), and the documents' PDFs.
Only the signed-in customer's own placed orders: any other number is a 404, whoever asks."""

from __future__ import annotations

from flask import abort, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from shop.i18n import localized_route
from shop.invoices import queries as invoice_queries
from shop.orders import customer_queries
from shop.orders import services as orders
from shop.orders.customer_queries import PageOutOfRange
from shop.paging import parse_page
from shop.web.account import bp
from shop.web.htmx import render
from shop.web.order_documents import documents_context, send_document


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _page_number() -> int:
    page = parse_page(request.args.get("page", "1"))
    if page is None:
        abort(404)
    return page


@localized_route(bp, {"fr": "/compte/commandes", "en": "/account/orders"})
@login_required
def orders_list() -> Response:
    try:
        page = customer_queries.orders_of(current_user.id, _page_number())
    except PageOutOfRange:
        abort(404)
    return _private(render("account/orders.html", listing=page))


@localized_route(bp, {"fr": "/compte/commandes/<number>", "en": "/account/orders/<number>"})
@login_required
def order(number: str) -> Response:
    found = customer_queries.order_of(current_user.id, number[:40])
    if found is None:
        abort(404)
    context = documents_context(
        found.order,
        invoice_queries.documents_of(found.order.id),
        lambda document: url_for(
            "account.order_document", number=found.order.number, invoice_id=document.id
        ),
        url_for("account.order", number=found.order.number),
    )
    return _private(
        render(
            "account/order.html",
            "orders/_documents.html",
            found=found,
            pay_token=orders.access_token(found.order),
            **context,
        )
    )


@localized_route(
    bp,
    {
        "fr": "/compte/commandes/<number>/factures/<int:invoice_id>.pdf",
        "en": "/account/orders/<number>/invoices/<int:invoice_id>.pdf",
    },
)
@login_required
def order_document(number: str, invoice_id: int) -> Response:
    order_id = customer_queries.order_number_of(current_user.id, number[:40])
    invoice = invoice_queries.document_of(order_id, invoice_id) if order_id else None
    if invoice is None:
        abort(404)
    return send_document(invoice, url_for("account.order", number=number[:40]))
