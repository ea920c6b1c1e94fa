"""Marking idle carts ABANDONED and sending their reminders.

The periodic job (every 10 minutes) runs ``detect_abandoned`` then ``send_due_steps``; the
back office's "send the reminder now" is ``send_next_step_now``. Timing and consent rules
are in ``shop.recovery.policy``.

A cart's reminders stop when it is converted, when it becomes active again (any change to
it, the checkout, or its recovery link: only ABANDONED carts are reminded), when its
shopper orders from another cart, or when the address unsubscribes. Each step is sent at
most once per cart, ever: the ``(cart_id, step)`` unique constraint of
``cart_recovery_emails`` backs the row lock taken while a step is queued, so a retried job
or a second worker cannot send it twice. A cart that is abandoned again later resumes with
its next unsent step.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from shop.accounts.models import User
from shop.cart import services as carts
from shop.cart.models import Cart, CartItem, CartRecoveryEmail, CartStatus
from shop.clock import utcnow
from shop.emails import services as emails
from shop.emails import suppression
from shop.extensions import db
from shop.recovery import links, policy
from shop.urls import public_url

log = logging.getLogger("shop.recovery")
EMAIL_KIND = "cart_recovery"  # a marketing kind: List-Unsubscribe, suppression checked
BATCH = 200


class RecoveryError(Exception):
    """A reminder we will not send; ``message`` is for the staff member who asked."""

    message: Any = _l("The reminder could not be sent.")


class CartNotFound(RecoveryError):
    message = _l("This cart does not exist.")


class CartNotAbandoned(RecoveryError):
    message = _l("This cart is not abandoned: it is in use, ordered or merged.")


class NoStepLeft(RecoveryError):
    message = _l("Every reminder of the sequence has already been sent for this cart.")


class NoAddress(RecoveryError):
    message = _l("There is no email address to write to for this cart.")


class NoConsent(RecoveryError):
    message = _l("This shopper has not agreed to receive reminders by email.")


class Unsubscribed(RecoveryError):
    message = _l("This address has unsubscribed from our marketing emails.")


class OrderedSince(RecoveryError):
    message = _l("This shopper has placed an order since: no reminder is needed.")


class NothingToRecover(RecoveryError):
    message = _l("Nothing in this cart is still for sale.")


# -- detection ---------------------------------------------------------------------------


def detect_abandoned(now: datetime | None = None) -> int:
    """Mark ABANDONED, in one UPDATE, every cart that is active, holds an item, has a known
    address (its own, or its customer's), was not converted and has been idle for more than
    an hour. Safe to run twice: a marked cart no longer matches. Returns how many."""
    now = now or utcnow()
    result = db.session.execute(
        update(Cart)
        .where(
            Cart.status == CartStatus.ACTIVE,
            Cart.converted_order_id.is_(None),
            Cart.last_activity_at < now - policy.ABANDON_AFTER,
            or_(Cart.email.is_not(None), Cart.customer_id.is_not(None)),
            exists().where(CartItem.cart_id == Cart.id),
        )
        .values(status=CartStatus.ABANDONED, abandoned_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


# -- the sequence ------------------------------------------------------------------------


def send_due_steps(now: datetime | None = None, batch: int = BATCH) -> int:
    """Queue the reminder that is due for each abandoned cart; returns how many were queued.

    Candidates are read in pages of ``batch`` with the timing, consent and "ordered since"
    rules in SQL and the suppression list checked per page; each reminder is then queued in
    its own transaction, under the cart's row lock (a cart busy with its shopper is skipped:
    it is about to be active again).
    """
    now = now or utcnow()
    step_windows = policy.windows(policy.delays())
    if not step_windows:
        return 0
    basis = policy.basis()
    address = policy.recipient()
    queued = 0
    after = 0
    while True:
        rows = db.session.execute(
            select(Cart.id, Cart.last_activity_at, address)
            .outerjoin(User, User.id == Cart.customer_id)
            .where(
                Cart.status == CartStatus.ABANDONED,
                Cart.id > after,
                policy.due_clause(step_windows, now),
                address.is_not(None),
                policy.reachable_clause(),
                policy.consent_clause(basis),
                ~policy.ordered_since_clause(address),
            )
            .order_by(Cart.id)
            .limit(batch)
        ).all()
        blocked = suppression.suppressed_among(row[2] for row in rows)
        db.session.rollback()
        for cart_id, last_activity, to in rows:
            step = policy.step_due(step_windows, last_activity, now)
            if to in blocked or step is None:
                continue
            try:
                queued += (
                    _send_step(cart_id, step, basis, len(step_windows), now=now, scheduled=True)
                    is not None
                )
            except RecoveryError as error:  # changed since it was read
                log.info(
                    "cart reminder skipped",
                    extra={"cart": cart_id, "step": step, "reason": type(error).__name__},
                )
        if len(rows) < batch:
            return queued
        after = rows[-1][0]


def send_next_step_now(cart_id: int, now: datetime | None = None) -> int:
    """The back office's "send the reminder now": the cart's next unsent step, at once,
    whatever its delay, under the same consent and unsubscribe rules. Returns the step.
    Raises a ``RecoveryError`` (translated message) and sends nothing when not allowed."""
    step_count = len(policy.delays())
    step = _send_step(
        cart_id, None, policy.basis(), step_count, now=now or utcnow(), scheduled=False
    )
    if step is None:  # a scheduled run queued it meanwhile
        raise NoStepLeft()
    return step


def _send_step(
    cart_id: int,
    step: int | None,
    basis: str,
    step_count: int,
    *,
    now: datetime,
    scheduled: bool,
) -> int | None:
    """Queue one reminder (``step`` None: the cart's next one); returns the step queued, or
    None when another run already did. The scheduled run skips a cart whose row is locked."""
    cart = db.session.execute(
        select(Cart).where(Cart.id == cart_id).with_for_update(skip_locked=scheduled)
    ).scalar_one_or_none()
    if cart is None:
        db.session.rollback()
        if scheduled:
            return None
        raise CartNotFound()
    try:
        if cart.status != CartStatus.ABANDONED:
            raise CartNotAbandoned()
        if step is None:
            step = cart.recovery_step + 1
        elif cart.recovery_step >= step:
            db.session.rollback()
            return None
        if step > step_count:
            raise NoStepLeft()
        address = _allowed_address(cart, basis)
        for_sale = [line for line in carts.summary(cart.id, cart.locale).lines if line.purchasable]
        if not for_sale:
            raise NothingToRecover()
    except RecoveryError:
        db.session.rollback()
        raise
    record = CartRecoveryEmail(cart_id=cart.id, step=step, to_address=address, queued_at=now)
    db.session.add(record)
    try:
        db.session.flush()
    except IntegrityError:  # the unique (cart, step): sent by another run
        db.session.rollback()
        return None
    secret = links.issue(cart.id, step, now)
    message = emails.queue_email(
        EMAIL_KIND,
        address,
        cart.locale,
        message_id=emails.message_id_for(f"cart-recovery-{cart.id}-{step}"),
        step=step,
        step_count=step_count,
        lines=for_sale,
        quantity=sum(line.quantity for line in for_sale),
        subtotal=sum(line.line_total for line in for_sale),
        recover_url=public_url("cart.recover", lang=cart.locale, token=secret),
        unsubscribe_url=public_url(
            emails.UNSUBSCRIBE_ENDPOINT, lang=cart.locale, token=emails.unsubscribe_token(address)
        ),
        basis=basis,
        link_days=links.link_days(),
    )
    record.email_id = message.id
    cart.recovery_step = step
    db.session.commit()
    return step


def _allowed_address(cart: Cart, basis: str) -> str:
    """Where this cart's reminder may go, or the ``RecoveryError`` saying why not."""
    user = db.session.get(User, cart.customer_id) if cart.customer_id else None
    address = user.email if user else cart.email
    if not address or not policy.is_reachable(user):
        raise NoAddress()
    if not policy.has_consent(basis, cart, user):
        raise NoConsent()
    if suppression.is_suppressed(address):
        raise Unsubscribed()
    ordered = db.session.execute(
        select(Cart.id).where(Cart.id == cart.id, policy.ordered_since_clause(address))
    ).first()
    if ordered is not None:
        raise OrderedSince()
    return address


# -- contact details from the checkout ---------------------------------------------------


def remember_contact(
    cart_id: int, email: str, *, consent: bool, now: datetime | None = None
) -> None:
    """The checkout's contact step: the address (normalized by the caller) goes on the cart,
    so an abandoned checkout can be reminded, and the "remind me" box is recorded (ticked:
    consent, from the first time it was ticked; unticked: none). Counts as activity. One
    UPDATE; a cart that is no longer open is left alone."""
    now = now or utcnow()
    consent_at = func.coalesce(Cart.recovery_consent_at, now) if consent else None
    db.session.execute(
        update(Cart)
        .where(Cart.id == cart_id, Cart.status.in_(CartStatus.OPEN))
        .values(
            email=email,
            recovery_consent_at=consent_at,
            status=CartStatus.ACTIVE,
            abandoned_at=None,
            last_activity_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
