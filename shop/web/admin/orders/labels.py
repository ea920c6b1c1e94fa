"""Staff-facing names of order, payment, email, event and stock states, and their colours;
of payment methods and of the e-mails an order sends."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from shop.web.admin import bp

PAYMENT_LABELS = {"card": _l("Card"), "bank_transfer": _l("Bank transfer")}
EMAIL_LABELS = {
    "order_confirmation": _l("Order confirmation"),
    "payment_received": _l("Payment received"),
    "order_shipped": _l("Order shipped"),
    "order_refunded": _l("Refund"),
    "order_cancelled": _l("Order cancelled"),
}
ORDER_TONES = {
    "pending_payment": "warn",
    "paid": "ok",
    "fulfilled": "ok",
    "completed": "ok",
    "cancelled": "danger",
    "partially_refunded": "warn",
    "refunded": "danger",
}
PAYMENT_STATUS = {
    "pending": _l("pending"),
    "requires_action": _l("waiting for 3-D Secure"),
    "succeeded": _l("succeeded"),
    "failed": _l("failed"),
    "cancelled": _l("cancelled"),
}
PAYMENT_TONES = {"succeeded": "ok", "failed": "danger", "requires_action": "warn"}
PROVIDERS = {"stripe": _l("Card (Stripe)"), "bank_transfer": _l("Bank transfer")}
OUTBOX_STATUS = {
    "pending": _l("waiting"),
    "done": _l("done"),
    "failed": _l("retrying"),
    "dead": _l("failed for good"),
}
EMAIL_STATUS = {"pending": _l("waiting"), "sent": _l("sent"), "failed": _l("not delivered")}
MOVEMENTS = {
    "receipt": _l("goods received"),
    "sale": _l("sale"),
    "return": _l("return"),
    "adjustment": _l("correction"),
}
AUDIT_ACTIONS = {
    "order.fulfil": _l("marked the order as shipped"),
    "order.complete": _l("marked the order as completed"),
    "order.mark_paid": _l("marked the bank transfer as received"),
    "order.cancel": _l("cancelled the order"),
    "order.refund": _l("refunded"),
    "order.resend_email": _l("sent an email again"),
    "stock.adjust": _l("changed the stock"),
    "stock.threshold": _l("changed the low-stock threshold"),
}


def _label(table: dict[str, Any], value: str) -> str:
    return str(table.get(value, value))


@bp.context_processor
def order_label_helpers() -> dict[str, Any]:
    return {
        "order_status_tone": lambda status: ORDER_TONES.get(status, ""),
        "payment_status_label": lambda status: _label(PAYMENT_STATUS, status),
        "payment_status_tone": lambda status: PAYMENT_TONES.get(status, ""),
        "provider_label": lambda provider: _label(PROVIDERS, provider),
        "outbox_status_label": lambda status: _label(OUTBOX_STATUS, status),
        "email_status_label": lambda status: _label(EMAIL_STATUS, status),
        "movement_label": lambda kind: _label(MOVEMENTS, kind),
        "audit_label": lambda action: _label(AUDIT_ACTIONS, action),
    }
