"""The suppression list: addresses that asked for no more marketing mail.

Every marketing send checks it: the cart reminders before queueing (``shop.recovery``) and
``deliver`` again just before SMTP, so an unsubscribe between the two still wins.

An entry is the SHA-256 of the address, lower-cased and stripped, not the address itself.
The list must outlive the customer's account (it is how an objection keeps being honoured
after an erasure), so it keeps no more than it needs to answer "may we write to X?": a copy
of the table is not a mailing list. A plain hash rather than a keyed one (HMAC) keeps the
list valid when ``SECRET_KEY`` is rotated; it is pseudonymous data, not anonymous.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import select, update

from shop import sql
from shop.accounts.models import User
from shop.clock import utcnow
from shop.emails.models import EmailSuppression
from shop.extensions import db

UNSUBSCRIBED = "unsubscribed"


def normalized(address: str) -> str:
    return address.strip().lower()


def address_hash(address: str) -> str:
    return hashlib.sha256(normalized(address).encode()).hexdigest()


def is_suppressed(address: str) -> bool:
    return db.session.get(EmailSuppression, address_hash(address)) is not None


def suppressed_among(addresses: Iterable[str]) -> set[str]:
    """The given addresses (as given) that are on the list: one query for a whole batch."""
    by_hash = {address_hash(a): a for a in addresses}
    if not by_hash:
        return set()
    found = db.session.execute(
        select(EmailSuppression.address_hash).where(EmailSuppression.address_hash.in_(by_hash))
    ).scalars()
    return {by_hash[h] for h in found}


def unsubscribe(address: str) -> None:
    """The address gets no more marketing mail: on the list (once, however often asked), and
    the matching customer's marketing consent withdrawn. Emails about orders are unaffected."""
    db.session.execute(
        sql.insert(EmailSuppression)
        .values(address_hash=address_hash(address), reason=UNSUBSCRIBED, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=[EmailSuppression.address_hash])
    )
    db.session.execute(
        update(User)
        .where(User.email == normalized(address), User.marketing_consent.is_(True))
        .values(marketing_consent=False)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
