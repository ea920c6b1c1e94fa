"""Form fields for numbers typed the way the staff member writes them: « 5,5 » in French,
"5.5" in English, amounts in the shop's currency; stored as integers (minor units, ppm)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from babel.numbers import (
    NumberFormatError,
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    parse_decimal,
)
from flask import current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import ValidationError

_SPACES = re.compile(r"[\s\u00a0\u202f']+")
_NUMBER = re.compile(r"[0-9.,]+")


def _locale() -> str:
    return str(get_locale() or "fr")


def parse_number(text: str, *, units: tuple[str, ...] = ()) -> Decimal:
    """A non-negative decimal in the staff member's locale; one of ``units`` may follow it."""
    cleaned = _SPACES.sub("", text)
    for unit in units:
        if cleaned.endswith(unit):
            cleaned = cleaned[: -len(unit)]
            break
    if cleaned.startswith("-"):
        raise ValidationError(str(_l("The value cannot be negative.")))
    if not _NUMBER.fullmatch(cleaned):
        raise ValidationError(str(_l("Enter a number, e.g. %(example)s.", example=_example())))
    try:
        return parse_decimal(cleaned, locale=_locale(), strict=True)
    except NumberFormatError as error:
        raise ValidationError(
            str(_l("Enter a number, e.g. %(example)s.", example=_example()))
        ) from error


def _example() -> str:
    return f"5{get_decimal_symbol(_locale())}5"


def format_number(value: Decimal) -> str:
    """Without grouping (easier to edit), with the locale's decimal sign."""
    text = format(value, "f")
    return text.replace(".", get_decimal_symbol(_locale()))


class _DecimalText(StringField):
    """A text input holding an integer ``data``: the typed decimal times 10**``decimals()``."""

    def units(self) -> tuple[str, ...]:
        return ()

    def decimals(self) -> int:
        return 0

    def too_precise(self) -> str:
        return str(_l("Use at most %(count)d decimals.", count=self.decimals()))

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else format_number(self.to_decimal(self.data))

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        if not valuelist or not str(valuelist[0]).strip():
            return
        amount = parse_number(str(valuelist[0]), units=self.units())
        self.data = self.from_decimal(amount)

    def to_decimal(self, value: int) -> Decimal:
        return Decimal(value).scaleb(-self.decimals())

    def from_decimal(self, value: Decimal) -> int:
        scaled = value.scaleb(self.decimals())
        if scaled != scaled.to_integral_value():
            raise ValueError(self.too_precise())
        return int(scaled)


class MoneyField(_DecimalText):
    """An amount in the shop's currency, typed as « 6,90 », kept in minor units (690)."""

    def _currency(self) -> str:
        return str(current_app.config["SHOP_CURRENCY"])

    def units(self) -> tuple[str, ...]:
        return (get_currency_symbol(self._currency(), locale=_locale()), self._currency())

    def decimals(self) -> int:
        return get_currency_precision(self._currency())


class PercentField(_DecimalText):
    """A rate typed as « 9,975 » (per cent), kept in parts per million (99750)."""

    def units(self) -> tuple[str, ...]:
        return ("%",)

    def decimals(self) -> int:
        return 4

    def too_precise(self) -> str:
        return str(_l("Use at most 4 decimals."))

    def to_decimal(self, value: int) -> Decimal:
        return super().to_decimal(value).normalize()

    def from_decimal(self, value: Decimal) -> int:
        if value > 100:
            raise ValueError(str(_l("A rate is between 0 and 100 %.")))
        return super().from_decimal(value)
