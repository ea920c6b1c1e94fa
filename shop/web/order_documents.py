"""The documents box of an order page (``orders/_documents.html``): on the customer's
order page in their account and on the guest confirmation page, each with its own links."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request

from shop.orders.customer_queries import Document
from shop.orders.models import Order, OrderStatus

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
