"""What staff do to an order besides what shoppers trigger: confirm a bank transfer, refund
through the way the customer paid. Both call the order services, which own the commit."""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l

from shop.extensions import db
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus, Payment, PaymentStatus, Refund


class NotABankTransfer(orders.OrderError):
    message = _l("Only an order paid by bank transfer can be marked as paid by hand.")


class NotAwaitingPayment(orders.OrderError):
    message = _l("This order is not awaiting payment.")


def mark_transfer_paid(order_id: int) -> Order:
    """The transfer arrived: the order is paid (stock sold, receipt and invoice follow)."""
    order = db.session.get(Order, order_id)
    if order is None:
        raise orders.OrderError(order_id)
    if order.payment_method != "bank_transfer":
        raise NotABankTransfer(order.payment_method)
    if not orders.mark_paid(order_id, provider="bank_transfer"):
        raise NotAwaitingPayment(order.status)
    db.session.refresh(order)
    return order


def paid_with(order_id: int) -> str | None:
    """The provider of the order's successful payment (``stripe``, ``bank_transfer``)."""
    return db.session.execute(
        db.select(Payment.provider)
        .where(Payment.order_id == order_id, Payment.status == PaymentStatus.SUCCEEDED)
        .order_by(Payment.id)
        .limit(1)
    ).scalar_one_or_none()


def refund(
    order_id: int,
    amount: int,
    *,
    restock: Mapping[int, int] | None = None,
    reason: str = "",
    actor_id: int | None = None,
) -> Refund:
    """Refund ``amount`` (minor units): through Stripe for a card payment, recorded only for
    a bank transfer (staff send that money back themselves). Raises the order service's
    ``RefundTooLarge`` / ``NotRefundable`` / ``OrderError``, or ``PaymentUnavailable`` when
    Stripe refuses or cannot be reached; nothing is recorded then."""
    from shop.payments import stripe_gateway

    provider = paid_with(order_id)
    return orders.refund(
        order_id,
        amount,
        restock=restock,
        reason=reason,
        actor_id=actor_id,
        send_to_provider=(
            stripe_gateway.refund_through_stripe if provider == stripe_gateway.PROVIDER else None
        ),
    )


REFUNDABLE_STATUSES = frozenset(
    {
        OrderStatus.PAID,
        OrderStatus.FULFILLED,
        OrderStatus.COMPLETED,
        OrderStatus.PARTIALLY_REFUNDED,
    }
)
