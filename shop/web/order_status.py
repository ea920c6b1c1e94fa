"""An order's status as customers and staff read it, in their language: the checkout
confirmation, the account's order pages, the back office and its CSV export."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

STATUS_LABELS = {
    "draft": _l("Draft"),
    "pending_payment": _l("Awaiting payment"),
    "paid": _l("Paid"),
    "fulfilled": _l("Shipped"),
    "completed": _l("Completed"),
    "cancelled": _l("Cancelled"),
    "partially_refunded": _l("Partially refunded"),
    "refunded": _l("Refunded"),
}


def order_status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))
