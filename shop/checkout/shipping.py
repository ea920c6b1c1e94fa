"""Shipping methods a destination can use, and what each costs for a given basket.

Prices are in minor units as the staff entered them (tax included when the shop's prices
include tax); the tax on shipping is computed with the basket by ``shop.checkout.taxes``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from shop.checkout.models import ShippingKind, ShippingMethod
from shop.extensions import db


class ShippingUnavailable(Exception):
    """The method does not exist, is switched off, or does not serve this country."""

    message = _l("This delivery method is not available for this address. Please choose another.")

    def __init__(self, code: str, country: str) -> None:
        super().__init__(f"shipping method {code!r} unavailable for {country}")
        self.code = code
        self.country = country


@dataclass(frozen=True)
class ShippingQuote:
    code: str
    name_fr: str
    name_en: str
    kind: str
    price: int
    tax_class: str

    def name(self, locale: str) -> str:
        return self.name_fr if locale == "fr" else self.name_en


def available_methods(country: str, subtotal_incl: int) -> list[ShippingQuote]:
    """The active methods serving ``country``, in the staff's order, priced for the basket.

    ``subtotal_incl`` is the goods subtotal as the customer sees it (tax included when
    prices include tax): the amount a "free from 60 €" promise is read against.
    """
    country = country.strip().upper()
    methods = db.session.execute(
        db.select(ShippingMethod)
        .where(ShippingMethod.active.is_(True))
        .order_by(ShippingMethod.position, ShippingMethod.id)
    ).scalars()
    return [_quote(method, subtotal_incl) for method in methods if _serves(method, country)]


def quote(code: str, country: str, subtotal: int) -> ShippingQuote:
    """The price of method ``code`` for this basket; ``ShippingUnavailable`` if it cannot ship."""
    country = country.strip().upper()
    method = db.session.execute(
        db.select(ShippingMethod).where(ShippingMethod.code == code)
    ).scalar_one_or_none()
    if method is None or not method.active or not _serves(method, country):
        raise ShippingUnavailable(code, country)
    return _quote(method, subtotal)


def _serves(method: ShippingMethod, country: str) -> bool:
    """Listed countries only; no list means everywhere, except for a pickup, which is a place."""
    if method.kind == ShippingKind.PICKUP:
        return country in (method.countries or [])
    return not method.countries or country in method.countries


def _quote(method: ShippingMethod, subtotal: int) -> ShippingQuote:
    free = method.kind == ShippingKind.PICKUP or (
        method.kind == ShippingKind.FREE_OVER
        and method.free_over is not None
        and subtotal >= method.free_over
    )
    price = 0 if free else method.price
    return ShippingQuote(
        code=method.code,
        name_fr=method.name_fr,
        name_en=method.name_en,
        kind=method.kind,
        price=price,
        tax_class=method.tax_class,
    )
