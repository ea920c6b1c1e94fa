"""Form fields for numbers typed the way the staff member writes them: « 5,5 » in French,
"5.5" in English, amounts in the shop's currency; stored as integers (minor units, ppm).
The parsing is ``shop.web.admin.numbers``'; these fields word its refusals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import ValidationError

from shop.web.admin import numbers
from shop.web.admin.numbers import BadNumber


class _DecimalText(StringField):
    """A text input holding an integer ``data``: the typed decimal times 10**``decimals()``."""

    maximum: int | None = None

    def units(self) -> tuple[str, ...]:
        return ()

    def decimals(self) -> int:
        return 0

    def too_precise(self) -> str:
        return str(_l("Use at most %(count)d decimals.", count=self.decimals()))

    def too_large(self) -> str:
        return str(_l("This amount is too large."))

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else numbers.format_plain(self.to_decimal(self.data))

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        if not valuelist or not str(valuelist[0]).strip():
            return
        text = str(valuelist[0])
        try:
            amount = numbers.parse_number(text, units=self.units())
        except BadNumber as error:
            if error.reason == BadNumber.NEGATIVE:
                raise ValidationError(str(_l("The value cannot be negative."))) from error
            example = f"5{numbers.decimal_symbol()}5"
            raise ValidationError(
                str(_l("Enter a number, e.g. %(example)s.", example=example))
            ) from error
        self.data = self.from_decimal(amount)

    def to_decimal(self, value: int) -> Decimal:
        return Decimal(value).scaleb(-self.decimals())

    def from_decimal(self, value: Decimal) -> int:
        try:
            return numbers.scaled(value, self.decimals(), maximum=self.maximum)
        except BadNumber as error:
            if error.reason == BadNumber.TOO_LARGE:
                raise ValueError(self.too_large()) from error
            raise ValueError(self.too_precise()) from error


class MoneyField(_DecimalText):
    """An amount in the shop's currency, typed as « 6,90 », kept in minor units (690)."""

    maximum = numbers.MAX_MINOR

    def units(self) -> tuple[str, ...]:
        return numbers.currency_units()

    def decimals(self) -> int:
        return numbers.currency_digits()


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
