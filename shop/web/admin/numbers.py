"""Numbers typed the way the staff member writes them — « 1 234,50 » in French, "1,234.50"
in English, with or without the currency sign — read into integers: minor units for money,
parts per million for rates, whole units for quantities. The one parser behind every admin
form (prices, shipping, refunds, order filters, tax rates, stock); each form words its own
errors from ``BadNumber.reason``.

Amounts are capped at ``MAX_MINOR``: money columns are 32-bit integers, so a larger value
would fail in the database (a 500) instead of in the form.
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal, InvalidOperation

from babel.numbers import (
    NumberFormatError,
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    parse_decimal,
)
from flask import current_app
from flask_babel import get_locale

MAX_MINOR = 1_000_000_000  # 10 million in a two-decimal currency; int4 holds 2,147,483,647
_SPACES = re.compile(r"[\s\u00a0\u202f']+")  # group separators: spaces, Swiss apostrophe
_NUMBER = re.compile(r"[0-9][0-9.,]*|[.,][0-9]+")
_QUANTITY_SPACES = str.maketrans("", "", " \u00a0\u202f")


class BadNumber(ValueError):
    """What is wrong with a typed number: one of the reasons below."""

    NOT_A_NUMBER = "not_a_number"
    NEGATIVE = "negative"
    TOO_PRECISE = "too_precise"
    TOO_LARGE = "too_large"

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(f"{reason}: {text!r}")
        self.reason = reason


def staff_locale() -> str:
    return str(get_locale() or "fr")


def currency() -> str:
    return str(current_app.config["SHOP_CURRENCY"])


def currency_digits() -> int:
    return digits_of(currency())


@functools.lru_cache(maxsize=32)
def digits_of(code: str) -> int:
    """Decimals of a currency: 2 for EUR and CAD, 0 for JPY."""
    return get_currency_precision(code)


def decimal_symbol() -> str:
    return get_decimal_symbol(staff_locale())


def parse_number(text: str, *, units: tuple[str, ...] = (), locale: str | None = None) -> Decimal:
    """A non-negative decimal in ``locale`` (the staff member's by default); one of ``units``
    may come before or after it (« 12,50 € », "€12.50", « 5,5 % »)."""
    cleaned = _SPACES.sub("", text).replace("\u2212", "-")  # U+2212 is a typographic minus
    for unit in units:
        if unit and cleaned.endswith(unit):
            cleaned = cleaned[: -len(unit)]
            break
        if unit and cleaned.startswith(unit):
            cleaned = cleaned[len(unit) :]
            break
    negative = cleaned.startswith("-")
    body = cleaned[1:] if negative else cleaned
    if not _NUMBER.fullmatch(body):
        raise BadNumber(BadNumber.NOT_A_NUMBER, text)
    try:
        value = parse_decimal(body, locale=locale or staff_locale(), strict=True)
    except (NumberFormatError, InvalidOperation) as error:
        raise BadNumber(BadNumber.NOT_A_NUMBER, text) from error
    if negative and value:
        raise BadNumber(BadNumber.NEGATIVE, text)
    return value


def scaled(value: Decimal, decimals: int, *, text: str = "", maximum: int | None = None) -> int:
    """``value`` × 10^``decimals`` as an integer: refused when it has more decimals than
    that, or exceeds ``maximum``."""
    result = value.scaleb(decimals)
    if result != result.to_integral_value():
        raise BadNumber(BadNumber.TOO_PRECISE, text)
    if maximum is not None and result > maximum:
        raise BadNumber(BadNumber.TOO_LARGE, text)
    return int(result)


def currency_units(locale: str | None = None) -> tuple[str, ...]:
    """What may be typed around an amount: the currency's symbol in ``locale`` and its code."""
    code = currency()
    return (get_currency_symbol(code, locale=locale or staff_locale()), code)


def parse_amount(text: str, *, locale: str | None = None) -> int:
    """Minor units of an amount in the shop's currency: « 1 234,50 € » → 123450."""
    value = parse_number(text, units=currency_units(locale), locale=locale)
    return scaled(value, currency_digits(), text=text, maximum=MAX_MINOR)


def format_minor(minor: int, *, currency: str | None = None, separator: str | None = None) -> str:
    """Minor units as staff type them and CSV cells hold them: « 12,50 » / "12.50", no
    grouping, no sign, as many decimals as ``currency`` has (the shop's by default), the
    staff locale's decimal sign unless ``separator`` is given."""
    digits = digits_of(currency) if currency else currency_digits()
    text = f"{Decimal(minor).scaleb(-digits):.{digits}f}"
    return text.replace(".", separator or decimal_symbol())


def format_plain(value: Decimal) -> str:
    """Without grouping (easier to edit), with the staff locale's decimal sign."""
    return format(value, "f").replace(".", decimal_symbol())


def parse_quantity(text: str, *, signed: bool = False) -> int:
    """A whole number of units; ``signed`` allows a leading minus. Raises ``ValueError``."""
    cleaned = (text or "").strip().replace("\u2212", "-").translate(_QUANTITY_SPACES)
    if cleaned.startswith("+"):
        cleaned = cleaned[1:]
    body = cleaned[1:] if signed and cleaned.startswith("-") else cleaned
    if not body.isdigit() or len(body) > 9:
        raise ValueError(text)
    return int(cleaned)
