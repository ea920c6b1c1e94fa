"""Orders: numbering, payment (exactly once), cancellation and refunds.

Every change takes the order row with ``SELECT ... FOR UPDATE`` first, so concurrent paths
(the return page and the webhook, two admins) are serialized and the second sees the first's
result. Each change writes its outbox event in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from shop import page_cache, sql
from shop.clock import utcnow
from shop.extensions import db
from shop.inventory import services as inventory
from shop.orders.models import (
    ORDER_NUMBERS,
    Order,
    OrderNumberSequence,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
)
from shop.outbox.services import emit
from shop.platform.bank import bank_details
from shop.urls import public_url

log = logging.getLogger("shop.orders")
_ACCESS_SALT = "comptoir.order-access"


class OrderError(Exception):
    message = _l("This order cannot be changed in this way.")


class RefundTooLarge(OrderError):
    message = _l("A refund cannot be more than what is left to refund on the order.")


class NotRefundable(OrderError):
    message = _l("Only a paid order can be refunded.")


class NotCancellable(OrderError):
    message = _l("Only an unpaid order can be cancelled.")


# -- numbers and access ----------------------------------------------------------------------


_sequences = OrderNumberSequence.__table__
_NEXT_IN_YEAR = (
    update(_sequences)
    .where(_sequences.c.year == bindparam("y"))
    .values(last_value=_sequences.c.last_value + 1)
    .returning(_sequences.c.last_value)
)
_NEXT_NUMBER = select(ORDER_NUMBERS.next_value())


def next_number(moment: datetime | None = None) -> str:
    """``CMD-2026-000123``: unique and increasing, not gapless (orders need no gapless
    numbers; invoices have theirs).

    PostgreSQL draws the number from a sequence: no lock, so concurrent checkouts never wait
    for each other here, and numbers keep counting across years. SQLite, which has no
    sequences, keeps a counter per year (one writer at a time there anyway).
    """
    year = (moment or utcnow()).year
    if sql.is_postgresql():
        return f"CMD-{year}-{db.session.execute(_NEXT_NUMBER).scalar_one():06d}"
    for _ in range(2):
        value = db.session.execute(_NEXT_IN_YEAR, {"y": year}).scalar_one_or_none()
        if value is not None:
            return f"CMD-{year}-{value:06d}"
        try:
            with db.session.begin_nested():
                db.session.execute(insert(_sequences).values(year=year, last_value=0))
        except IntegrityError:
            pass  # another transaction created this year's counter first
    raise RuntimeError("could not allocate an order number")


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_ACCESS_SALT)


def access_token(order: Order) -> str:
    """A link token for guests: whoever has it may see this order (sent by email)."""
    return _serializer().dumps({"o": order.id, "n": order.number})


def email_context(order: Order) -> dict[str, Any]:
    """What every order email's template gets: the order, the link to its page and the
    shop's bank details (for orders awaiting a transfer)."""
    return {
        "order": order,
        "order_url": public_url(
            "checkout.confirmation", lang=order.locale, token=access_token(order)
        ),
        "bank": bank_details(),
    }


def order_for_token(token: str) -> Order | None:
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    order = db.session.get(Order, data.get("o"))
    return order if order is not None and order.number == data.get("n") else None


def lock_order(order_id: int) -> Order | None:
    """The order, its row locked until the transaction ends and its attributes read afresh
    (whatever the session held): the one way every writer of an order (payment, refund,
    shipment, invoice) serialises with the others. None when there is no such order."""
    return db.session.execute(
        db.select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _locked(order_id: int) -> Order:
    order = lock_order(order_id)
    if order is None:
        raise OrderError(order_id)
    return order


def _sold_lines(order: Order) -> list[tuple[int, int]]:
    return [(line.variant_id, line.quantity) for line in order.lines if line.variant_id]


# -- payment -----------------------------------------------------------------------------------


def mark_paid(
    order_id: int, *, provider: str, intent_id: str | None = None, amount: int | None = None
) -> bool:
    """The order is paid: sell its held stock, record the payment, announce it. Exactly once.

    Returns True when this call made the order paid, False when it already was (or cannot
    be: cancelled orders, wrong amounts are logged for staff, never marked paid).
    """
    order = _locked(order_id)
    if order.status != OrderStatus.PENDING_PAYMENT:
        db.session.rollback()
        if order.status == OrderStatus.CANCELLED:
            log.error("payment for a cancelled order", extra={"order": order.number})
        return False
    if amount is not None and amount != order.total:
        db.session.rollback()
        log.error(
            "payment amount differs from the order total",
            extra={"order": order.number, "amount": amount, "total": order.total},
        )
        return False
    payment = None
    if intent_id:
        payment = db.session.execute(
            db.select(Payment).where(Payment.intent_id == intent_id)
        ).scalar_one_or_none()
    if payment is None:
        latest = db.select(Payment).where(
            Payment.order_id == order.id, Payment.provider == provider
        )
        if intent_id:
            # Only a payment still waiting for its intent: a declined attempt keeps its own
            # intent and failure (refunds go to the intent recorded here).
            latest = latest.where(
                Payment.intent_id.is_(None),
                Payment.status.in_((PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION)),
            )
        payment = db.session.execute(
            latest.order_by(Payment.id.desc()).limit(1)
        ).scalar_one_or_none()
    if payment is None:
        payment = Payment(
            order_id=order.id,
            provider=provider,
            amount=order.total,
            currency=order.currency,
            intent_id=intent_id,
        )
        db.session.add(payment)
    elif intent_id and payment.intent_id is None:
        payment.intent_id = intent_id
    payment.status = PaymentStatus.SUCCEEDED
    payment.succeeded_at = utcnow()
    short = inventory.sell_order_holds(order.id, _sold_lines(order))
    if short:
        log.error("paid order oversold", extra={"order": order.number, "variants": short})
    order.move_to(OrderStatus.PAID)
    order.paid_at = utcnow()
    emit("order_paid", order_id=order.id, number=order.number, provider=provider)
    db.session.commit()
    page_cache.catalogue_changed()
    return True


def payment_failed(order_id: int, *, intent_id: str | None, message: str) -> None:
    """A card was declined: the order stays payable, its holds stay, the buyer may retry."""
    order = _locked(order_id)
    if intent_id:
        db.session.execute(
            update(Payment)
            .where(Payment.intent_id == intent_id, Payment.status != PaymentStatus.SUCCEEDED)
            .values(status=PaymentStatus.FAILED, last_error=message[:2000])
        )
    if order.status == OrderStatus.PENDING_PAYMENT:
        inventory.extend_holds(order_id=order.id)
    db.session.commit()


# -- cancellation and refunds ---------------------------------------------------------------


def cancel(order_id: int, *, reason: str = "") -> Order:
    order = _locked(order_id)
    if not order.can_move_to(OrderStatus.CANCELLED):
        db.session.rollback()
        raise NotCancellable(order.status)
    inventory.release_order_holds(order.id)
    order.move_to(OrderStatus.CANCELLED)
    order.cancelled_at = utcnow()
    emit("order_cancelled", order_id=order.id, number=order.number, reason=reason)
    db.session.commit()
    page_cache.catalogue_changed()
    return order


def refund(
    order_id: int,
    amount: int,
    *,
    restock: Mapping[int, int] | None = None,
    reason: str = "",
    actor_id: int | None = None,
    send_to_provider: Callable[[Payment, int, str], str] | None = None,
) -> Refund:
    """Give money back (never more than was paid and not yet refunded), optionally restock.

    ``restock`` maps order line ids to quantities returned to stock. ``send_to_provider``
    performs the provider's refund (Stripe) and returns its id; bank transfers are refunded
    by hand and recorded here.
    """
    order = _locked(order_id)
    if order.status not in (
        OrderStatus.PAID,
        OrderStatus.FULFILLED,
        OrderStatus.COMPLETED,
        OrderStatus.PARTIALLY_REFUNDED,
    ):
        db.session.rollback()
        raise NotRefundable(order.status)
    if amount <= 0 or amount > order.refundable:
        db.session.rollback()
        raise RefundTooLarge(amount)
    payment = db.session.execute(
        db.select(Payment)
        .where(Payment.order_id == order.id, Payment.status == PaymentStatus.SUCCEEDED)
        .order_by(Payment.id)
        .limit(1)
    ).scalar_one_or_none()
    record = Refund(
        order_id=order.id,
        payment_id=payment.id if payment else None,
        amount=amount,
        reason=reason,
        actor_id=actor_id,
    )
    db.session.add(record)
    db.session.flush()
    lines = {line.id: line for line in order.lines}
    for line_id, quantity in (restock or {}).items():
        line = lines.get(line_id)
        if line is None or quantity <= 0 or quantity > line.quantity - line.quantity_refunded:
            db.session.rollback()
            raise OrderError(line_id)
        line.quantity_refunded += quantity
        if line.variant_id:
            inventory.restock(
                line.variant_id,
                quantity,
                reason=reason or "refund",
                order_id=order.id,
                actor_id=actor_id,
            )
        record.restocked = True
    if send_to_provider is not None and payment is not None:
        try:
            record.provider_refund_id = send_to_provider(payment, amount, f"refund-{record.id}")
        except Exception:
            db.session.rollback()  # nothing was refunded: record nothing, release the order
            raise
    order.amount_refunded += amount
    order.move_to(
        OrderStatus.REFUNDED
        if order.amount_refunded == order.total
        else OrderStatus.PARTIALLY_REFUNDED
    )
    emit(
        "order_refunded", order_id=order.id, number=order.number, refund_id=record.id, amount=amount
    )
    db.session.commit()
    if record.restocked:
        page_cache.catalogue_changed()
    return record
