"""The seller's legal identifiers, checked and written the way invoices print them.

Each ``normalize_*`` takes what staff typed and returns the canonical form, or raises
``InvalidIdentifier`` with a message for the form. Checks:

- SIREN (9 digits) and SIRET (14 digits): the Luhn checksum; La Poste's establishments
  (SIREN 356 000 000) may instead have SIRET digits adding up to a multiple of 5;
- French VAT number: ``FR`` + a two-character key + the SIREN; a numeric key must equal
  ``(12 + 3 × (SIREN mod 97)) mod 97``. Other EU numbers: the country prefix and the shape;
- GST/HST registration number: the 9-digit business number (Luhn) + ``RT`` + 4 digits;
- QST registration number: 10 digits + ``TQ`` + 4 digits;
- RCS: « RCS <city> <SIREN> » (the SIREN must be the company's own).
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

# The store identity, one setting each in ``platform_config`` (the back office's identity
# form edits them, invoices print them, the storefront's footer shows them).
IDENTITY_KEYS = (
    "legal_name",
    "trade_name",
    "legal_form",
    "share_capital",  # minor units of the shop's currency
    "legal_address",
    "siret",
    "vat_number",
    "rcs",
    "gst_number",
    "qst_number",
    "legal_email",
    "legal_phone",
)
LA_POSTE_SIREN = "356000000"
EU_VAT_PREFIXES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "EL",
        "ES",
        "FI",
        "FR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
        "XI",
    ]
)
_SEPARATORS = re.compile(r"[\s.\-\u00a0\u202f]+")


class InvalidIdentifier(ValueError):
    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


def _compact(value: str) -> str:
    return _SEPARATORS.sub("", value).upper()


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def normalize_siret(value: str) -> str:
    """A SIREN (9 digits) or SIRET (14 digits), grouped: « 123 456 789 » / « 123 456 789 00012 »."""
    digits = _compact(value)
    if not digits.isdigit() or len(digits) not in (9, 14):
        raise InvalidIdentifier(_l("A SIREN has 9 digits and a SIRET 14 digits."))
    la_poste = len(digits) == 14 and digits.startswith(LA_POSTE_SIREN)
    if not luhn_valid(digits) and not (la_poste and sum(map(int, digits)) % 5 == 0):
        raise InvalidIdentifier(_l("This number is not valid: please check its digits."))
    grouped = f"{digits[0:3]} {digits[3:6]} {digits[6:9]}"
    return grouped if len(digits) == 9 else f"{grouped} {digits[9:]}"


def siren_of(siret: str) -> str:
    """The 9-digit SIREN inside a normalized SIREN or SIRET."""
    return _compact(siret)[:9]


def french_vat_key(siren: str) -> str:
    return f"{(12 + 3 * (int(siren) % 97)) % 97:02d}"


def normalize_vat(value: str, *, siren: str = "") -> str:
    """An EU VAT number; a French one is checked against its key and the company's SIREN."""
    compact = _compact(value)
    prefix, rest = compact[:2], compact[2:]
    if prefix not in EU_VAT_PREFIXES or not re.fullmatch(r"[0-9A-Z+*]{2,12}", rest):
        raise InvalidIdentifier(
            _l("Enter the VAT number with its country prefix, e.g. FR12 345678901.")
        )
    if prefix != "FR":
        return compact
    if not re.fullmatch(r"[0-9A-HJ-NP-Z]{2}[0-9]{9}", rest):
        raise InvalidIdentifier(
            _l("A French VAT number is FR, a two-character key and the 9-digit SIREN.")
        )
    key, number = rest[:2], rest[2:]
    if key.isdigit() and key != french_vat_key(number):
        raise InvalidIdentifier(_l("The key of this VAT number does not match its SIREN."))
    if siren and number != siren:
        raise InvalidIdentifier(_l("This VAT number belongs to another SIREN than yours."))
    return f"FR{key} {number}"


def normalize_gst(value: str) -> str:
    """« 123456789 RT0001 »: the business number, the GST/HST program and the account."""
    compact = _compact(value)
    if not re.fullmatch(r"[0-9]{9}RT[0-9]{4}", compact):
        raise InvalidIdentifier(
            _l("A GST/HST number is 9 digits, RT and 4 digits, e.g. 123456782 RT0001.")
        )
    if not luhn_valid(compact[:9]):
        raise InvalidIdentifier(_l("This number is not valid: please check its digits."))
    return f"{compact[:9]} {compact[9:]}"


def normalize_qst(value: str) -> str:
    """« 1234567890 TQ0001 »: Revenu Québec's identification number, TQ and the file."""
    compact = _compact(value)
    if not re.fullmatch(r"[0-9]{10}TQ[0-9]{4}", compact):
        raise InvalidIdentifier(
            _l("A QST number is 10 digits, TQ and 4 digits, e.g. 1234567890 TQ0001.")
        )
    return f"{compact[:10]} {compact[10:]}"


def normalize_rcs(value: str, *, siren: str = "") -> str:
    """« RCS Paris 123 456 789 » (the registry's city, then the SIREN)."""
    text = " ".join(value.split())
    match = re.fullmatch(r"(?i:RCS)\s+(.+?)\s+([AB]\s+)?((?:\d[\s.\u00a0]?){8}\d)", text)
    if not match:
        raise InvalidIdentifier(
            _l("Write the registration as on your Kbis extract, e.g. RCS Paris 123 456 789.")
        )
    number = _compact(match.group(3))
    if siren and number != siren:
        raise InvalidIdentifier(_l("This registration names another SIREN than yours."))
    letter = f"{match.group(2).strip()} " if match.group(2) else ""
    return f"RCS {match.group(1)} {letter}{number[0:3]} {number[3:6]} {number[6:9]}"
