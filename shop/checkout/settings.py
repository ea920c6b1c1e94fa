"""Staff changes to what checkout reads: tax rates and shipping methods.

Each function is one use case and commits. Orders already placed keep their own snapshot
(lines, tax lines, shipping), so a change applies from the next quote on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from shop.catalogue.models import TaxClass
from shop.checkout.models import ShippingKind, ShippingMethod, TaxRate
from shop.extensions import db


class SettingsError(Exception):
    message: Any = _l("This change cannot be saved.")


class NotFound(SettingsError):
    message = _l("This item no longer exists.")


class DuplicateTaxRate(SettingsError):
    message = _l("This destination already has a tax with this name for this tax class.")


class DuplicateShippingCode(SettingsError):
    message = _l("Another delivery method already uses this code.")


class IncompleteShippingMethod(SettingsError):
    def __init__(self, field_name: str, message: Any) -> None:
        super().__init__(field_name)
        self.field = field_name
        self.message = message


# -- tax rates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaxRateData:
    country: str
    region: str
    tax_class: str
    name_fr: str
    name_en: str
    rate_ppm: int
    position: int = 0


def tax_rates(country: str = "") -> list[TaxRate]:
    """By destination, then tax class (standard first), then printing order."""
    query = db.select(TaxRate)
    if country:
        query = query.where(TaxRate.country == country)
    rows = db.session.scalars(query)
    classes = {name: rank for rank, name in enumerate(TaxClass.ALL)}
    return sorted(
        rows,
        key=lambda r: (r.country, r.region, classes.get(r.tax_class, 99), r.position, r.id),
    )


def count_tax_rates() -> int:
    return db.session.scalar(db.select(db.func.count(TaxRate.id))) or 0


def tax_rate(rate_id: int) -> TaxRate:
    rate = db.session.get(TaxRate, rate_id)
    if rate is None:
        raise NotFound(rate_id)
    return rate


def tax_rate_snapshot(rate: TaxRate) -> dict[str, Any]:
    return {name: getattr(rate, name) for name in TaxRateData.__dataclass_fields__}


def create_tax_rate(
    data: TaxRateData, *, created: Callable[[TaxRate], None] | None = None
) -> TaxRate:
    """``created`` gets the new row once it has its id, before the commit (for the audit)."""
    _refuse_duplicate_tax(data, None)
    rate = TaxRate(**asdict(data))
    db.session.add(rate)
    db.session.flush()
    if created is not None:
        created(rate)
    db.session.commit()
    return rate


def update_tax_rate(rate_id: int, data: TaxRateData) -> TaxRate:
    rate = tax_rate(rate_id)
    _refuse_duplicate_tax(data, rate_id)
    for name, value in asdict(data).items():
        setattr(rate, name, value)
    db.session.commit()
    return rate


def delete_tax_rate(rate_id: int) -> None:
    db.session.delete(tax_rate(rate_id))
    db.session.commit()


def _refuse_duplicate_tax(data: TaxRateData, rate_id: int | None) -> None:
    """Two components with the same name for one destination and class would be charged
    twice: refused."""
    query = db.select(TaxRate.id).where(
        TaxRate.country == data.country,
        TaxRate.region == data.region,
        TaxRate.tax_class == data.tax_class,
        db.or_(TaxRate.name_fr == data.name_fr, TaxRate.name_en == data.name_en),
    )
    if rate_id is not None:
        query = query.where(TaxRate.id != rate_id)
    if db.session.scalar(query.limit(1)) is not None:
        db.session.rollback()
        raise DuplicateTaxRate(data)


# -- shipping methods ------------------------------------------------------------------------


@dataclass(frozen=True)
class ShippingMethodData:
    code: str
    kind: str
    name_fr: str
    name_en: str
    price: int
    free_over: int | None
    countries: list[str] = field(default_factory=list)
    tax_class: str = "standard"
    position: int = 0
    active: bool = True


def shipping_methods() -> list[ShippingMethod]:
    return list(
        db.session.scalars(
            db.select(ShippingMethod).order_by(ShippingMethod.position, ShippingMethod.id)
        )
    )


def shipping_method(method_id: int) -> ShippingMethod:
    method = db.session.get(ShippingMethod, method_id)
    if method is None:
        raise NotFound(method_id)
    return method


def shipping_snapshot(method: ShippingMethod) -> dict[str, Any]:
    snapshot = {name: getattr(method, name) for name in ShippingMethodData.__dataclass_fields__}
    snapshot["countries"] = list(snapshot["countries"] or [])
    return snapshot


def create_shipping_method(
    data: ShippingMethodData, *, created: Callable[[ShippingMethod], None] | None = None
) -> ShippingMethod:
    """``created`` gets the new row once it has its id, before the commit (for the audit)."""
    _check_shipping(data)
    method = ShippingMethod(**asdict(data))
    db.session.add(method)
    try:
        db.session.flush()
    except IntegrityError as error:
        db.session.rollback()
        raise DuplicateShippingCode(data.code) from error
    if created is not None:
        created(method)
    _commit_shipping(data)
    return method


def update_shipping_method(method_id: int, data: ShippingMethodData) -> ShippingMethod:
    _check_shipping(data)
    method = shipping_method(method_id)
    for name, value in asdict(data).items():
        setattr(method, name, value)
    _commit_shipping(data)
    return method


def set_shipping_active(method_id: int, active: bool) -> ShippingMethod:
    method = shipping_method(method_id)
    method.active = active
    db.session.commit()
    return method


def _check_shipping(data: ShippingMethodData) -> None:
    if data.kind == ShippingKind.FREE_OVER and data.free_over is None:
        raise IncompleteShippingMethod(
            "free_over", _l("Enter the order amount from which delivery is free.")
        )
    if data.kind == ShippingKind.PICKUP and not data.countries:
        raise IncompleteShippingMethod(
            "countries", _l("A pickup point serves the countries you tick: tick at least one.")
        )


def _commit_shipping(data: ShippingMethodData) -> None:
    try:
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        raise DuplicateShippingCode(data.code) from error
