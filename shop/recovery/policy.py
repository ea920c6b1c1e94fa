"""Who may get a cart reminder, and when.

**When.** A cart is abandoned after ``ABANDON_AFTER`` (60 minutes) without activity. Its
reminders go out at the delays of the store setting ``cart_recovery_delays`` (hours after
the last activity, default ``"1,24,72"``; empty: no reminders). Each step has a window,
from its delay to the next step's delay (the last one: ``LAST_STEP_GRACE`` more), and only
the step whose window holds "now" is sent. So after an outage the shopper gets the one
reminder that fits, never two in a row, and a cart idle for weeks gets none.

**Who** (store setting ``cart_recovery_basis``):

- ``"consent"`` (the default): a customer who agreed to marketing mail
  (``users.marketing_consent``), or anyone who ticked "remind me" at checkout
  (``carts.recovery_consent_at``). Guests never otherwise.
- ``"legitimate_interest"``: anyone with a known address; the mail says why it was sent
  and how to stop it.

Always: not an address on the suppression list, not a closed or anonymized account, and
not a shopper who has ordered since the cart's last activity (from any cart).
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, func, or_, true

from shop.accounts.models import User
from shop.cart.models import Cart
from shop.orders.models import Order
from shop.platform.services import get_setting

log = logging.getLogger("shop.recovery")

ABANDON_AFTER = timedelta(minutes=60)
LAST_STEP_GRACE = timedelta(hours=24)

BASIS_SETTING = "cart_recovery_basis"
CONSENT = "consent"
LEGITIMATE_INTEREST = "legitimate_interest"
BASES = (CONSENT, LEGITIMATE_INTEREST)

DELAYS_SETTING = "cart_recovery_delays"
DEFAULT_DELAYS = "1,24,72"
MAX_STEPS = 3  # more reminders than this is pestering
MAX_DELAY_HOURS = 30 * 24  # a month after the last visit the cart is forgotten


class InvalidDelays(ValueError):
    """Delays staff typed that the back office refuses; ``message`` says why."""

    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


# -- settings ----------------------------------------------------------------------------


def basis() -> str:
    """The store's legal basis for reminders; an unknown value reads as the stricter one."""
    value = get_setting(BASIS_SETTING, CONSENT).strip()
    return value if value in BASES else CONSENT


def parse_delays(raw: str) -> tuple[timedelta, ...]:
    """``"1,24,72"`` → 1 h, 24 h, 72 h. Positive hours (decimals allowed), strictly
    increasing; ``ValueError`` otherwise. An empty text means no reminders."""
    if not raw.strip():
        return ()
    hours = [float(part) for part in raw.split(",")]
    if not all(math.isfinite(h) and h > 0 for h in hours) or any(
        b <= a for a, b in itertools.pairwise(hours)
    ):
        raise ValueError(raw)
    return tuple(timedelta(hours=h) for h in hours)


def normalize_delays(text: str) -> str:
    """What staff type (« 1, 24, 72 ») as stored (``"1,24,72"``): whole hours, at least 1,
    increasing, at most ``MAX_STEPS`` of them, the last within ``MAX_DELAY_HOURS``. Empty
    means no reminders. Raises ``InvalidDelays``."""
    if not text.strip():
        return ""
    parts = [part.strip() for part in text.split(",")]
    if not all(re.fullmatch(r"[0-9]{1,6}", part) for part in parts):
        raise InvalidDelays(_l("Enter whole numbers of hours separated by commas, e.g. 1, 24, 72."))
    hours = [int(part) for part in parts]
    if len(hours) > MAX_STEPS:
        raise InvalidDelays(_l("Send at most %(count)d reminders.", count=MAX_STEPS))
    if hours[0] < 1:
        raise InvalidDelays(_l("The first reminder comes at least 1 hour after the last visit."))
    if any(b <= a for a, b in itertools.pairwise(hours)):
        raise InvalidDelays(
            _l("List the delays in increasing order: each reminder comes after the previous one.")
        )
    if hours[-1] > MAX_DELAY_HOURS:
        raise InvalidDelays(
            _l(
                "The last reminder comes at most %(days)d days (%(hours)d hours) after the last "
                "visit.",
                days=MAX_DELAY_HOURS // 24,
                hours=MAX_DELAY_HOURS,
            )
        )
    return ",".join(str(hour) for hour in hours)


def delays_text(step_delays: tuple[timedelta, ...]) -> str:
    """« 1, 24, 72 »: the delays in hours, as staff type them."""
    return ", ".join(f"{delay.total_seconds() / 3600:g}" for delay in step_delays)


def delays() -> tuple[timedelta, ...]:
    raw = get_setting(DELAYS_SETTING, DEFAULT_DELAYS)
    try:
        return parse_delays(raw)
    except ValueError:
        log.warning("bad cart_recovery_delays setting, using the default", extra={"value": raw})
        return parse_delays(DEFAULT_DELAYS)


# -- when --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    step: int  # 1-based
    opens: timedelta  # after the last activity
    closes: timedelta


def windows(step_delays: tuple[timedelta, ...]) -> list[Window]:
    closes = (*step_delays[1:], step_delays[-1] + LAST_STEP_GRACE) if step_delays else ()
    return [
        Window(step, opens, close)
        for step, (opens, close) in enumerate(zip(step_delays, closes, strict=True), start=1)
    ]


def aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back without their (UTC) zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def step_due(step_windows: list[Window], last_activity: datetime, now: datetime) -> int | None:
    idle = now - aware(last_activity)
    return next((w.step for w in step_windows if w.opens <= idle < w.closes), None)


def due_clause(step_windows: list[Window], now: datetime) -> Any:
    """SQL: the cart is in the window of a step it has not had yet."""
    return or_(
        *(
            and_(
                Cart.recovery_step < w.step,
                Cart.last_activity_at <= now - w.opens,
                Cart.last_activity_at > now - w.closes,
            )
            for w in step_windows
        )
    )


# -- who (SQL over carts outer-joined to their customer) ---------------------------------


def recipient() -> Any:
    """A customer's current address, else the one the guest typed at checkout."""
    return func.coalesce(User.email, Cart.email)


def reachable_clause() -> Any:
    return or_(
        Cart.customer_id.is_(None),
        and_(User.anonymized_at.is_(None), User.is_active_account.is_(True)),
    )


def consent_clause(chosen_basis: str) -> Any:
    if chosen_basis == LEGITIMATE_INTEREST:
        return true()
    return or_(Cart.recovery_consent_at.is_not(None), User.marketing_consent.is_(True))


def ordered_since_clause(address: Any) -> Any:
    """The shopper has placed an order since the cart's last activity, from any cart."""
    by_address = exists().where(Order.email == address, Order.placed_at >= Cart.last_activity_at)
    by_account = exists().where(
        Order.customer_id == Cart.customer_id, Order.placed_at >= Cart.last_activity_at
    )
    return or_(by_address, and_(Cart.customer_id.is_not(None), by_account))


# -- who (one cart, in Python, after its row is locked) ----------------------------------


def has_consent(chosen_basis: str, cart: Cart, user: User | None) -> bool:
    if chosen_basis == LEGITIMATE_INTEREST:
        return True
    return cart.recovery_consent_at is not None or bool(user and user.marketing_consent)


def is_reachable(user: User | None) -> bool:
    return user is None or (user.anonymized_at is None and user.is_active_account)
