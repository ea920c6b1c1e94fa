"""The "recover my cart" link of a reminder: a random secret whose SHA-256 alone is stored.

The secret (256 bits from ``secrets``) cannot be guessed or forged, and a copy of
``cart_recovery_tokens`` opens no cart: a link is genuine only if its hash is on file and
unexpired (``CART_RECOVERY_LINK_DAYS``, 14 by default). A link may be followed more than
once until it expires (two devices, a second look).

Following it reopens the cart (ACTIVE again, so its reminders stop), records a "recovered"
event and hands the cart to the visitor:

- a guest cart, to a guest: its token goes into their cart cookie (in place of any other
  guest cart they had on that browser);
- a guest cart, to a logged-in customer: merged into their cart, as at login;
- a customer's cart, to that customer: it is already theirs; to a visitor who is not logged
  in: they are asked to log in (a link in a mail never logs anyone in);
- a customer's cart, to another customer: refused, nothing changes.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from shop.cart import services as carts
from shop.cart.models import Cart, CartEvent, CartEventKind, CartRecoveryToken
from shop.clock import utcnow
from shop.extensions import db

DEFAULT_LINK_DAYS = 14
_SHAPE = re.compile(r"[A-Za-z0-9_-]{32,64}")


class LinkError(Exception):
    """A recovery link we refuse; ``message`` is for the visitor, ``status`` for the page."""

    message: Any = _l("This link is not valid. Please check that you copied it whole.")
    status = 404


class LinkInvalid(LinkError):
    """Unknown, altered or malformed."""


class LinkExpired(LinkError):
    message = _l("This link has expired. Your cart may still be waiting on our site.")
    status = 410


class CartGone(LinkError):
    message = _l(
        "This cart is no longer available: it has been ordered, or added to a customer "
        "account's cart."
    )
    status = 410


class AnotherCustomersCart(LinkError):
    message = _l("This cart belongs to another account. Log out, then open the link again.")
    status = 403


def link_days() -> int:
    return int(current_app.config.get("CART_RECOVERY_LINK_DAYS", DEFAULT_LINK_DAYS))


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(cart_id: int, step: int | None, now: datetime) -> str:
    """A new link secret for the cart (added to the session; the caller commits)."""
    secret = secrets.token_urlsafe(32)
    db.session.add(
        CartRecoveryToken(
            cart_id=cart_id,
            token_hash=token_hash(secret),
            step=step,
            created_at=now,
            expires_at=now + timedelta(days=link_days()),
        )
    )
    return secret


@dataclass
class Restored:
    cart_id: int
    guest_token: str | None = None  # for the visitor's cart cookie
    needs_login: bool = False  # a customer's cart, and the visitor is not logged in


def restore(
    secret: str,
    *,
    customer_id: int | None,
    guest_token: str | None = None,
    now: datetime | None = None,
) -> Restored:
    """Reopen the link's cart for this visitor (``customer_id``: who is logged in, if
    anyone; ``guest_token``: the cart a guest already holds in this browser, whose lines
    then join the recovered cart). Raises a ``LinkError`` and changes nothing when the link
    cannot be used."""
    now = now or utcnow()
    if not _SHAPE.fullmatch(secret or ""):
        raise LinkInvalid()
    row = db.session.execute(
        select(CartRecoveryToken, Cart, CartRecoveryToken.expires_at > now)
        .join(Cart, Cart.id == CartRecoveryToken.cart_id)
        .where(CartRecoveryToken.token_hash == token_hash(secret))
        .with_for_update(of=Cart)
    ).one_or_none()
    if row is None:
        db.session.rollback()
        raise LinkInvalid()
    token, cart, unexpired = row
    error: LinkError | None = None
    if not unexpired:
        error = LinkExpired()
    elif not cart.is_open:
        error = CartGone()
    elif cart.customer_id is not None and customer_id not in (None, cart.customer_id):
        error = AnotherCustomersCart()
    if error is not None:
        db.session.rollback()
        raise error
    token.used_at = now
    cart.mark_active(now)
    db.session.add(CartEvent(cart_id=cart.id, kind=CartEventKind.RECOVERED, at=now))
    restored = Restored(cart_id=cart.id)
    merge = cart.customer_id is None and customer_id is not None
    if cart.customer_id is None and customer_id is None:
        restored.guest_token = cart.token
    restored.needs_login = cart.customer_id is not None and customer_id is None
    recovered_token = cart.token
    db.session.commit()
    if merge:
        assert customer_id is not None
        own = carts.merge_on_login(recovered_token, customer_id)
        if own is not None:
            restored.cart_id = own.id
    elif restored.guest_token and guest_token and guest_token != recovered_token:
        carts.merge_guest_carts(guest_token, restored.cart_id)
    return restored
