"""Shipping methods a destination can use, and what each costs for a given basket.

Prices are in minor units as the staff entered them (tax included when the shop's prices
include tax); the tax on shipping is computed with the basket by ``shop.checkout.taxes``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from shop.checkout import cache
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


@dataclass(frozen=True)
class _Method:
    """A shipping method as checkout reads it (kept by ``shop.checkout.cache``)."""

    code: str
    kind: str
    name_fr: str
    name_en: str
    price: int
    free_over: int | None
    countries: tuple[str, ...]
    active: bool
    tax_class: str


_METHODS = select(
    ShippingMethod.code,
    ShippingMethod.kind,
    ShippingMethod.name_fr,
    ShippingMethod.name_en,
    ShippingMethod.price,
    ShippingMethod.free_over,
    ShippingMethod.countries,
    ShippingMethod.active,
    ShippingMethod.tax_class,
).order_by(ShippingMethod.position, ShippingMethod.id)


def _methods() -> tuple[_Method, ...]:
    """Every method, in the staff's order, read through the cache."""
    return cache.cached(
        ("shipping_methods",),
        lambda: tuple(
            _Method(*row[:6], tuple(row.countries or ()), *row[7:])
            for row in db.session.execute(_METHODS)
        ),
    )


def available_methods(country: str, subtotal_incl: int) -> list[ShippingQuote]:
    """The active methods serving ``country``, in the staff's order, priced for the basket.

    ``subtotal_incl`` is the goods subtotal as the customer sees it (tax included when
    prices include tax): the amount a "free from 60 €" promise is read against.
    """
    country = country.strip().upper()
    return [
        _quote(method, subtotal_incl)
        for method in _methods()
        if method.active and _serves(method, country)
    ]


def quote(code: str, country: str, subtotal: int) -> ShippingQuote:
    """The price of method ``code`` for this basket; ``ShippingUnavailable`` if it cannot ship."""
    country = country.strip().upper()
    method = next((m for m in _methods() if m.code == code), None)
    if method is None or not method.active or not _serves(method, country):
        raise ShippingUnavailable(code, country)
    return _quote(method, subtotal)


def _serves(method: _Method, country: str) -> bool:
    """Listed countries only; no list means everywhere, except for a pickup, which is a place."""
    if method.kind == ShippingKind.PICKUP:
        return country in (method.countries or [])
    return not method.countries or country in method.countries


def _quote(method: _Method, subtotal: int) -> ShippingQuote:
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
