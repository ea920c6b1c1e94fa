"""What the footer of every storefront page shows: the seller's legal mentions (from the
store identity) and the payment methods the checkout offers (card when Stripe is set up,
bank transfer when an IBAN is saved: the checkout's own rule).

Cached with the catalogue version like the header's categories (the settings pages bump
it on save, and entries live ten minutes at most); a database that cannot answer (an error
page) gives an empty footer rather than a second error.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from shop import page_cache
from shop.extensions import db
from shop.payments import stripe_gateway
from shop.platform import bank
from shop.platform.legal import IDENTITY_KEYS
from shop.platform.services import PRICES_INCLUDE_TAX, configured
from shop.web.storefront import bp

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})  # as ``platform.prices_include_tax``


def _saved(key: str) -> str:
    """A saved setting; all of them come in one query per request (``configured``)."""
    return (configured(key, "") or "").strip()


def _build() -> dict[str, Any]:
    payments = []
    if stripe_gateway.enabled():
        payments.append("card")
    if _saved(bank.IBAN_KEY):
        payments.append("bank_transfer")
    identity = {key: _saved(key) for key in IDENTITY_KEYS}
    taxed = (configured(PRICES_INCLUDE_TAX, "") or "true").strip().lower() in TRUE_WORDS
    return {"identity": identity, "payments": payments, "prices_include_tax": taxed}


@bp.app_template_global()
def site_footer() -> dict[str, Any]:
    try:
        return page_cache.cached(("footer",), _build)
    except SQLAlchemyError:
        db.session.rollback()
        return {"identity": {}, "payments": [], "prices_include_tax": True}
