"""The bank details customers pay a bank transfer to, kept in ``platform_config``.

The IBAN is stored compact and upper-case (``FR7630006000011234567890189``) and shown in
groups of four; it is checked with python-stdnum (its ISO 7064 check digits, then the length
and layout of its country's IBANs), and the BIC likewise (8 or 11 characters, a known
country). Without an IBAN there are no bank details, and the checkout does not offer bank
transfer: a customer is never asked to pay to blank details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)

from shop.platform.legal import InvalidIdentifier
from shop.platform.services import stored, update_settings

HOLDER_KEY = "bank_holder"
IBAN_KEY = "bank_iban"
BIC_KEY = "bank_bic"
KEYS = (HOLDER_KEY, IBAN_KEY, BIC_KEY)

# A fictional account for the demo: the example IBAN of French banking documentation.
DEMO = {
    HOLDER_KEY: "Comptoir Démo SAS",
    IBAN_KEY: "FR7630006000011234567890189",
    BIC_KEY: "AGRIFRPP",
}

_SEPARATORS = re.compile(r"[\s.\-\u00a0\u202f]+")
_IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}")


@dataclass(frozen=True)
class BankDetails:
    holder: str
    iban: str  # compact
    bic: str  # may be empty

    @property
    def iban_grouped(self) -> str:
        return format_iban(self.iban)


def _compact(value: str) -> str:
    return _SEPARATORS.sub("", value).upper()


def format_iban(iban: str) -> str:
    """« FR76 3000 6000 0112 3456 7890 189 »: groups of four, as printed by banks."""
    return stdnum_iban.format(_compact(iban))


def normalize_iban(value: str) -> str:
    """The IBAN compact and upper-case, or ``InvalidIdentifier`` saying what is wrong."""
    compact = _compact(value)
    if not _IBAN_SHAPE.fullmatch(compact):
        raise InvalidIdentifier(
            _l(
                "An IBAN is two letters, two check digits and the account number, "
                "e.g. FR76 3000 6000 0112 3456 7890 189."
            )
        )
    try:
        return stdnum_iban.validate(compact)
    except InvalidChecksum as error:
        raise InvalidIdentifier(
            _l("The check digits of this IBAN do not match: please check for a typing mistake.")
        ) from error
    except InvalidComponent as error:
        raise InvalidIdentifier(
            _l("This IBAN does not start with the code of a country that uses IBANs.")
        ) from error
    except (InvalidFormat, InvalidLength) as error:
        raise InvalidIdentifier(
            _l("This IBAN does not have the length or the layout of the IBANs of its country.")
        ) from error
    except ValidationError as error:  # a country's own check (e.g. a bank code it lacks)
        raise InvalidIdentifier(_l("This IBAN is not valid: please check it.")) from error


def normalize_bic(value: str) -> str:
    """The BIC (SWIFT code) compact and upper-case, or ``InvalidIdentifier``."""
    compact = _compact(value)
    try:
        return stdnum_bic.validate(compact)
    except InvalidLength as error:
        raise InvalidIdentifier(_l("A BIC has 8 or 11 characters, e.g. AGRIFRPP.")) from error
    except InvalidComponent as error:
        raise InvalidIdentifier(
            _l("Letters 5 and 6 of a BIC are its country code: this one is unknown.")
        ) from error
    except ValidationError as error:
        raise InvalidIdentifier(
            _l(
                "A BIC is 4 letters for the bank, 2 for the country, then 2 letters or digits "
                "for the place and an optional 3 for the branch, e.g. AGRIFRPP."
            )
        ) from error


def saved() -> dict[str, str]:
    """The three settings as saved (empty strings for the unset ones)."""
    values = stored(KEYS)
    return {key: values.get(key, "") for key in KEYS}


def bank_details() -> BankDetails | None:
    """What to show customers paying by transfer, or None when no IBAN is saved (bank
    transfer is then not offered). An account holder left unset (saved outside the back
    office) reads as the shop's name."""
    values = saved()
    if not values[IBAN_KEY].strip():
        return None
    return BankDetails(
        holder=values[HOLDER_KEY].strip() or current_app.config["SHOP_NAME"],
        iban=_compact(values[IBAN_KEY]),
        bic=_compact(values[BIC_KEY]),
    )


def load_demo_bank_details() -> list[str]:
    """The demo's fictional bank details, unless the shop has an IBAN already."""
    if saved()[IBAN_KEY]:
        return []
    update_settings(DEMO)
    return ["payments: demo bank details for bank transfers"]
