"""Announcing a price reduction, the EU Omnibus way (directive 98/6/EC art. 6a, as France
applies it in art. L112-1-1 of the Code de la consommation).

A reduction is announced only against the *prior price*: the lowest price the shop applied
during the 30 days before the reduction started. That is the price shown struck through, and
the percentage is computed against it. The compare-at price a merchant types only says "show
this price as a reduction"; it is never the struck price itself, since it may be higher than
what the shop charged in the last 30 days (a price raised before a sale, a short promotion).

The reduction starts when the current price took effect (``price_since``); the prior price is
fixed then, from the price history, and stored on the variant (``lowest_prior_price``) so the
storefront reads it with the price, without looking at the history. Everything here is pure:
the table tests in ``tests/test_omnibus.py`` pin the rules down.

Not modelled: successive reductions during one sale (art. L112-1-1 II lets them keep the
price before the first one); a later cut is struck from the lower of the two, which announces
less than the law would allow, never more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

OMNIBUS_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Reduction:
    """What a page shows of an announced reduction."""

    reference: int  # the struck-through prior price, minor units
    percent: int  # off the reference, rounded down: never announce more than the real cut


def lowest_price_before(history: Iterable[tuple[datetime, int]], moment: datetime) -> int | None:
    """The lowest price in force at any time during the 30 days before ``moment``.

    ``history`` holds (started_at, price) rows in any order: the price in force when the
    window opened counts, as do the ones that started inside it (a price starting at
    ``moment`` itself is the new one, not a prior one). None when no price was in force
    before ``moment`` (a variant that never had another price).
    """
    moment = _utc(moment)
    window_start = moment - OMNIBUS_WINDOW
    at_start: tuple[datetime, int] | None = None
    candidates: list[int] = []
    for started, price in history:
        started_at = _utc(started)
        if started_at <= window_start:
            if at_start is None or started_at > at_start[0]:
                at_start = (started_at, price)
        elif started_at < moment:
            candidates.append(price)
    if at_start is not None:
        candidates.append(at_start[1])
    return min(candidates) if candidates else None


def _utc(moment: datetime) -> datetime:
    """SQLite gives naive UTC datetimes back; PostgreSQL aware ones."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def reduction(price: int, compare_at: int | None, reference: int | None) -> Reduction | None:
    """The reduction to announce for a variant sold at ``price``, whose merchant set
    ``compare_at``, and whose prior price (the 30-day lowest before ``price`` started) is
    ``reference``; None when no reduction may be shown.

    No compare-at price: the merchant announces nothing. No prior price (the variant has
    only ever had this price): there is nothing to be reduced from. A prior price not above
    the current one: the shop did charge this little (or less) in the last 30 days, so
    announcing a reduction would mislead.
    """
    if compare_at is None or reference is None or reference <= price:
        return None
    return Reduction(reference=reference, percent=(reference - price) * 100 // reference)


def announced_reduction(
    price: int,
    compare_at: int | None,
    history: Iterable[tuple[datetime, int]],
    since: datetime,
) -> Reduction | None:
    """The whole rule from the price history: the reduction a variant at ``price`` since
    ``since`` may announce (the storefront reads the same prior price stored on the variant)."""
    return reduction(price, compare_at, lowest_price_before(history, since))
