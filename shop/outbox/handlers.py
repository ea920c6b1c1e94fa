"""What each outbox event does: ``{event type: handler}``, used by the dispatcher.

A handler takes the claimed event and runs inside the dispatcher's transaction (it must not
commit). It is idempotent: emails are queued under a Message-ID derived from the event id
(``<order_paid.123@shop>``), so running an event twice queues one email.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app

from shop.emails.services import message_id_for, queue_email
from shop.extensions import db
from shop.orders.models import Order
from shop.outbox.models import OutboxEvent

Handler = Callable[[OutboxEvent], None]


def _order(event: OutboxEvent) -> Order | None:
    return db.session.get(Order, event.payload["order_id"])


def _order_context(order: Order) -> dict[str, Any]:
    from shop.orders.services import access_token
    from shop.platform.services import get_setting
    from shop.web.templating import public_url

    return {
        "order": order,
        "order_url": public_url(
            "checkout.confirmation", lang=order.locale, token=access_token(order)
        ),
        "bank": {
            "holder": get_setting("bank_holder", current_app.config["SHOP_NAME"]),
            "iban": get_setting("bank_iban", ""),
            "bic": get_setting("bank_bic", ""),
        },
    }


def _order_email(kind: str, **extra: Any) -> Handler:
    def handle(event: OutboxEvent) -> None:
        order = _order(event)
        if order is None:  # deleted since (e.g. anonymized): nothing left to tell
            return
        queue_email(
            kind,
            order.email,
            order.locale,
            message_id=message_id_for(f"{event.type}.{event.id}"),
            **_order_context(order),
            **{name: event.payload.get(key) for name, key in extra.items()},
        )

    handle.__name__ = f"send_{kind}"
    return handle


HANDLERS: dict[str, Handler] = {
    "order_placed": _order_email("order_confirmation"),
    "order_paid": _order_email("payment_received"),
    "order_cancelled": _order_email("order_cancelled"),
    "order_refunded": _order_email("order_refunded", refund_amount="amount"),
}
