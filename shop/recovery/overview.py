"""Abandoned carts for the back office: one page in five queries, whatever its size.

Each row gives the cart's value at today's prices (lines still for sale), its items, the
address a reminder would go to, its last activity, a recency score and the reminders
already sent with their dates (and the delivery state of each mail).

Recency score: ``100 × 0.5 ^ (hours since last activity / 24)``, rounded half up: 100 for a cart
left just now, 50 after a day, 25 after two, 13 after three. It halves every day, so the
freshest carts, the ones most likely to be recovered, come first at a glance.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from shop.accounts.models import User
from shop.cart.models import Cart, CartItem, CartRecoveryEmail, CartStatus
from shop.catalogue.models import Product, ProductStatus, ProductTranslation, ProductVariant
from shop.clock import utcnow
from shop.emails.models import EmailMessage
from shop.extensions import db
from shop.recovery import policy

SCORE_HALF_LIFE_HOURS = 24


@dataclass
class OverviewLine:
    title: str
    variant_label: str
    sku: str
    quantity: int
    unit_price: int  # today's price, minor units
    line_total: int
    purchasable: bool


@dataclass
class SentStep:
    step: int
    queued_at: datetime
    to_address: str
    delivery: str | None  # the mail's status: pending, sent, failed (None: mail purged)
    delivered_at: datetime | None


@dataclass
class AbandonedCart:
    cart_id: int
    email: str | None
    customer_id: int | None
    locale: str
    last_activity_at: datetime
    abandoned_at: datetime | None
    recency_score: int
    lines: list[OverviewLine] = field(default_factory=list)
    steps: list[SentStep] = field(default_factory=list)
    next_step: int | None = None  # None: the sequence is complete

    @property
    def value(self) -> int:
        return sum(line.line_total for line in self.lines if line.purchasable)

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass
class Overview:
    carts: list[AbandonedCart]
    total: int  # abandoned carts in all, for pagination


def recency_score(last_activity: datetime, now: datetime) -> int:
    hours = max((now - policy.aware(last_activity)).total_seconds() / 3600, 0)
    return math.floor(100 * 0.5 ** (hours / SCORE_HALF_LIFE_HOURS) + 0.5)


def abandoned_overview(
    limit: int = 50,
    offset: int = 0,
    *,
    locale: str = "fr",
    email_contains: str | None = None,
    now: datetime | None = None,
) -> Overview:
    """Abandoned carts, most recently active first (so by falling recency score); product
    titles in ``locale`` (the staff member's), falling back to the other language, then the
    SKU. ``email_contains`` filters on the address, case-insensitively."""
    now = now or utcnow()
    step_count = len(policy.delays())
    address = policy.recipient()
    where = [Cart.status == CartStatus.ABANDONED]
    if email_contains:
        pattern = "%" + email_contains.strip().lower().replace("%", r"\%").replace("_", r"\_")
        where.append(func.lower(address).like(pattern + "%", escape="\\"))
    total = db.session.execute(
        select(func.count(Cart.id)).outerjoin(User, User.id == Cart.customer_id).where(*where)
    ).scalar_one()
    page = db.session.execute(
        select(Cart, address)
        .outerjoin(User, User.id == Cart.customer_id)
        .where(*where)
        .order_by(Cart.last_activity_at.desc(), Cart.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    rows = [
        AbandonedCart(
            cart_id=cart.id,
            email=email,
            customer_id=cart.customer_id,
            locale=cart.locale,
            last_activity_at=cart.last_activity_at,
            abandoned_at=cart.abandoned_at,
            recency_score=recency_score(cart.last_activity_at, now),
            next_step=cart.recovery_step + 1 if cart.recovery_step < step_count else None,
        )
        for cart, email in page
    ]
    by_id = {row.cart_id: row for row in rows}
    if by_id:
        for cart_id, line in _lines(list(by_id), locale):
            by_id[cart_id].lines.append(line)
        for cart_id, step in _steps(list(by_id)):
            by_id[cart_id].steps.append(step)
    return Overview(carts=rows, total=total)


def _lines(cart_ids: list[int], locale: str) -> list[tuple[int, OverviewLine]]:
    own = aliased(ProductTranslation)
    other = aliased(ProductTranslation)
    found = db.session.execute(
        select(CartItem.cart_id, CartItem.quantity, ProductVariant, Product.status, own.title)
        .add_columns(other.title)
        .join(ProductVariant, ProductVariant.id == CartItem.variant_id)
        .join(Product, Product.id == ProductVariant.product_id)
        .outerjoin(own, and_(own.product_id == Product.id, own.locale == locale))
        .outerjoin(other, and_(other.product_id == Product.id, other.locale != locale))
        .where(CartItem.cart_id.in_(cart_ids))
        .order_by(CartItem.cart_id, CartItem.id)
    ).all()
    lines = []
    for cart_id, quantity, variant, status, title, other_title in found:
        lines.append(
            (
                cart_id,
                OverviewLine(
                    title=title or other_title or variant.sku,
                    variant_label=variant.option_label(locale),
                    sku=variant.sku,
                    quantity=quantity,
                    unit_price=variant.price,
                    line_total=variant.price * quantity,
                    purchasable=variant.is_active and status == ProductStatus.ACTIVE,
                ),
            )
        )
    return lines


def _steps(cart_ids: list[int]) -> list[tuple[int, SentStep]]:
    found = db.session.execute(
        select(CartRecoveryEmail, EmailMessage.status, EmailMessage.sent_at)
        .outerjoin(EmailMessage, EmailMessage.id == CartRecoveryEmail.email_id)
        .where(CartRecoveryEmail.cart_id.in_(cart_ids))
        .order_by(CartRecoveryEmail.cart_id, CartRecoveryEmail.step)
    ).all()
    grouped: dict[int, list[SentStep]] = defaultdict(list)
    for record, status, delivered_at in found:
        grouped[record.cart_id].append(
            SentStep(
                step=record.step,
                queued_at=record.queued_at,
                to_address=record.to_address,
                delivery=status,
                delivered_at=delivered_at,
            )
        )
    return [(cart_id, step) for cart_id, steps in grouped.items() for step in steps]
