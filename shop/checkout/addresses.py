"""Delivery and billing addresses: the countries we serve, their names, and a checked address.

``validate_address`` takes what a form posted (plain strings) and gives back a normalized
``Address`` with a dict of errors, field by field, in the customer's language. Postal codes
are checked against each country's format and written the way its post office prints them.

Some postal codes of supported countries are refused because they lie outside the EU VAT
area or have VAT rates of their own that ``shop.checkout.taxes`` does not know yet: French
overseas departments and territories (97xxx, 98xxx), the Canary Islands, Ceuta and Melilla,
the Azores and Madeira, Heligoland and Büsingen, Livigno and Campione d'Italia.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

from babel import Locale
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

SUPPORTED_COUNTRIES: tuple[str, ...] = (
    "FR",
    "MC",
    "BE",
    "LU",
    "DE",
    "ES",
    "IT",
    "NL",
    "PT",
    "AT",
    "IE",
    "CA",
)

CANADIAN_PROVINCES: dict[str, dict[str, str]] = {
    "AB": {"fr": "Alberta", "en": "Alberta"},
    "BC": {"fr": "Colombie-Britannique", "en": "British Columbia"},
    "MB": {"fr": "Manitoba", "en": "Manitoba"},
    "NB": {"fr": "Nouveau-Brunswick", "en": "New Brunswick"},
    "NL": {"fr": "Terre-Neuve-et-Labrador", "en": "Newfoundland and Labrador"},
    "NS": {"fr": "Nouvelle-Écosse", "en": "Nova Scotia"},
    "NT": {"fr": "Territoires du Nord-Ouest", "en": "Northwest Territories"},
    "NU": {"fr": "Nunavut", "en": "Nunavut"},
    "ON": {"fr": "Ontario", "en": "Ontario"},
    "PE": {"fr": "Île-du-Prince-Édouard", "en": "Prince Edward Island"},
    "QC": {"fr": "Québec", "en": "Quebec"},
    "SK": {"fr": "Saskatchewan", "en": "Saskatchewan"},
    "YT": {"fr": "Yukon", "en": "Yukon"},
}

# The first letter of a Canadian postal code names its province (X: both northern territories).
_CANADIAN_AREAS: dict[str, frozenset[str]] = {
    "A": frozenset({"NL"}),
    "B": frozenset({"NS"}),
    "C": frozenset({"PE"}),
    "E": frozenset({"NB"}),
    "G": frozenset({"QC"}),
    "H": frozenset({"QC"}),
    "J": frozenset({"QC"}),
    "K": frozenset({"ON"}),
    "L": frozenset({"ON"}),
    "M": frozenset({"ON"}),
    "N": frozenset({"ON"}),
    "P": frozenset({"ON"}),
    "R": frozenset({"MB"}),
    "S": frozenset({"SK"}),
    "T": frozenset({"AB"}),
    "V": frozenset({"BC"}),
    "X": frozenset({"NT", "NU"}),
    "Y": frozenset({"YT"}),
}

# country: (pattern on the upper-cased code without spaces, how to write it, an example)
_POSTAL_FORMATS: dict[str, tuple[str, str, str]] = {
    "FR": (r"(\d{5})", r"\1", "75011"),
    "MC": (r"(980\d\d)", r"\1", "98000"),
    "DE": (r"((?!00)\d{5})", r"\1", "10115"),
    "ES": (r"((?:0[1-9]|[1-4]\d|5[0-2])\d{3})", r"\1", "28001"),
    "IT": (r"(\d{5})", r"\1", "00184"),
    "BE": (r"([1-9]\d{3})", r"\1", "1000"),
    "LU": (r"(?:L-?)?(\d{4})", r"\1", "1118"),
    "AT": (r"([1-9]\d{3})", r"\1", "1010"),
    "NL": (r"([1-9]\d{3})([A-Z]{2})", r"\1 \2", "1012 AB"),
    "PT": (r"([1-9]\d{3})-?(\d{3})", r"\1-\2", "1100-148"),
    "IE": (r"([AC-FHKNPRTV-Y]\d[\dW])([\dAC-FHKNPRTV-Y]{4})", r"\1 \2", "A65 F4E2"),
    "CA": (
        r"([ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z])(\d[ABCEGHJ-NPRSTV-Z]\d)",
        r"\1 \2",
        "H2X 1Y4",
    ),
}

# Outside the EU VAT area, or with rates of their own (see the module docstring).
_OUTSIDE_PREFIXES: dict[str, tuple[str, ...]] = {
    "FR": ("97", "98"),
    "ES": ("35", "38", "51", "52"),
    "PT": ("9",),
    "DE": ("27498", "78266"),
    "IT": ("23041", "22061"),
}

FIELD_NAMES = (
    "first_name",
    "last_name",
    "company",
    "line1",
    "line2",
    "postal_code",
    "city",
    "country",
    "region",
    "phone",
)
REQUIRED = frozenset({"first_name", "last_name", "line1", "postal_code", "city", "country"})
MAX_LENGTH = 100
MAX_LENGTHS = {"postal_code": 16, "phone": 32}
_ALLOWED_FORMAT_CHARACTERS = frozenset({"\u200c", "\u200d"})  # joiners some scripts need
_PHONE = re.compile(r"\+?[0-9 ().\-/]+")

REQUIRED_MESSAGE = _l("Please fill in this field.")
CONTROL_CHARACTERS = _l("Please remove the special characters from this field.")
COUNTRY_REQUIRED = _l("Please choose a country.")
COUNTRY_UNSUPPORTED = _l("We do not deliver to this country yet.")
REGION_REQUIRED = _l("Please choose a province or territory.")
REGION_MISMATCH = _l("This postal code is not in the province or territory chosen.")
POSTAL_OUTSIDE = _l("We do not deliver to this area yet.")
POSTAL_MONACO = _l("This postal code is in Monaco: please choose Monaco as the country.")
PHONE_INVALID = _l("Please enter a valid phone number, such as +33 1 23 45 67 89.")


@dataclass(frozen=True)
class Address:
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    line1: str = ""
    line2: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = ""
    region: str = ""
    phone: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> Address:
        """An address back from its ``as_dict`` snapshot (unknown keys ignored)."""
        return cls(**{f.name: str(data.get(f.name) or "") for f in fields(cls)})

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def lines(self, locale: str) -> list[str]:
        """The address as printed on a label, country name in ``locale``."""
        if self.country == "CA":
            place = [f"{self.city} {self.region} {self.postal_code}"]
        elif self.country == "IE":
            place = [self.city, self.postal_code]
        else:
            place = [f"{self.postal_code} {self.city}"]
        lines = [self.full_name, self.company, self.line1, self.line2, *place]
        return [line for line in lines if line] + [country_name(self.country, locale)]


def sort_key(text: str) -> str:
    """Accents and case set aside, so « Émirats » sorts with the E and « Île » with the I."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def country_name(code: str, locale: str) -> str:
    return Locale.parse(locale).territories.get(code, code)


def country_choices(locale: str) -> list[tuple[str, str]]:
    """(code, name) of every country we deliver to, by name; France first in French."""
    parsed = Locale.parse(locale)
    choices = sorted(
        ((code, parsed.territories.get(code, code)) for code in SUPPORTED_COUNTRIES),
        key=lambda choice: sort_key(choice[1]),
    )
    if parsed.language == "fr":
        choices.sort(key=lambda choice: choice[0] != "FR")  # stable: the rest keep their order
    return choices


def province_choices(locale: str) -> list[tuple[str, str]]:
    """(code, name) of the Canadian provinces and territories, by name in ``locale``."""
    language = "fr" if Locale.parse(locale).language == "fr" else "en"
    return sorted(
        ((code, names[language]) for code, names in CANADIAN_PROVINCES.items()),
        key=lambda choice: sort_key(choice[1]),
    )


def validate_address(data: Mapping[str, str], locale: str) -> tuple[Address, dict[str, str]]:
    """Normalize a posted address; errors map a field name to a message in ``locale``.

    The address comes back even when there are errors, so the form can show what was typed.
    """
    values: dict[str, str] = {}
    errors: dict[str, object] = {}
    for name in FIELD_NAMES:
        value, error = _clean(data.get(name), MAX_LENGTHS.get(name, MAX_LENGTH))
        values[name] = value
        if error is not None:
            errors[name] = error
        elif not value and name in REQUIRED:
            errors[name] = COUNTRY_REQUIRED if name == "country" else REQUIRED_MESSAGE

    country = values["country"] = values["country"].upper()
    if "country" not in errors and country not in SUPPORTED_COUNTRIES:
        errors["country"] = COUNTRY_UNSUPPORTED
    if country == "CA":
        values["region"] = values["region"].upper()
        if "region" not in errors and values["region"] not in CANADIAN_PROVINCES:
            errors["region"] = REGION_REQUIRED
    else:
        values["region"] = ""
        errors.pop("region", None)
    if country in SUPPORTED_COUNTRIES and "postal_code" not in errors:
        values["postal_code"], error = _postal_code(country, values["postal_code"])
        if error is not None:
            errors["postal_code"] = error
        elif country == "CA" and "region" not in errors and not _in_province(values):
            errors["region"] = REGION_MISMATCH
    if values["phone"] and "phone" not in errors and not _valid_phone(values["phone"]):
        errors["phone"] = PHONE_INVALID

    with force_locale(locale):
        messages = {name: str(message) for name, message in errors.items()}
    return Address(**values), messages


def _clean(raw: str | None, max_length: int) -> tuple[str, object | None]:
    """Trimmed, NFC, inner runs of spaces made one; refuses control characters and excess."""
    value = unicodedata.normalize("NFC", raw or "").strip()
    if any(_is_control(c) for c in value):
        return value, CONTROL_CHARACTERS
    value = re.sub(r"\s+", " ", value)
    if len(value) > max_length:
        return value, _l("Please shorten this to %(max)s characters at most.", max=max_length)
    return value, None


def _is_control(character: str) -> bool:
    category = unicodedata.category(character)
    if category == "Cf":
        return character not in _ALLOWED_FORMAT_CHARACTERS
    return category in {"Cc", "Cs", "Co", "Zl", "Zp"}


def _postal_code(country: str, raw: str) -> tuple[str, object | None]:
    pattern, template, example = _POSTAL_FORMATS[country]
    match = re.fullmatch(pattern, re.sub(r"\s", "", raw.upper()))
    if (
        match is None
        or (country == "NL" and match.group(2) in {"SA", "SD", "SS"})  # never issued
        or (country == "IE" and match.group(1)[2] == "W" and match.group(1) != "D6W")
    ):
        return raw, _l("Please enter a valid postal code, such as %(example)s.", example=example)
    code = match.expand(template)
    if country == "FR" and code.startswith("980"):
        return code, POSTAL_MONACO
    if code.startswith(_OUTSIDE_PREFIXES.get(country, ())):
        return code, POSTAL_OUTSIDE
    return code, None


def _in_province(values: Mapping[str, str]) -> bool:
    """The province chosen decides the taxes, so it must be where the postal code is."""
    return values["region"] in _CANADIAN_AREAS.get(values["postal_code"][0], frozenset())


def _valid_phone(phone: str) -> bool:
    digits = sum(c.isdigit() for c in phone)
    return _PHONE.fullmatch(phone) is not None and 6 <= digits <= 15
