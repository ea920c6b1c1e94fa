"""The home page's hero, kept in ``platform_config``: a title, a line under it, a button
label and the address the button leads to, in each language (``hero_title_fr``...).

A text left empty falls back to the shop's built-in wording (the template's), an empty
address to the language's search page. The demo fills them (``DEMO``).
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

from shop.config import LOCALES
from shop.platform.legal import InvalidIdentifier
from shop.platform.services import configured, stored, update_settings

FIELDS = ("title", "subtitle", "button", "link")
MAX_LENGTH = {"title": 120, "subtitle": 300, "button": 40, "link": 500}


def key(field: str, lang: str) -> str:
    return f"hero_{field}_{lang}"


KEYS = tuple(key(field, lang) for lang in LOCALES for field in FIELDS)

DEMO = {
    key("title", "fr"): "Des objets faits pour durer",
    key("subtitle", "fr"): (
        "Mobilier, arts de la table, textiles et papeterie choisis avec soin, expédiés "
        "depuis la France."
    ),
    key("button", "fr"): "Découvrir les chaises",
    key("link", "fr"): "/fr/categories/chaises",
    key("title", "en"): "Things made to last",
    key("subtitle", "en"): (
        "Furniture, tableware, textiles and stationery chosen with care, shipped from France."
    ),
    key("button", "en"): "Discover the chairs",
    key("link", "en"): "/en/categories/chairs",
}

_SCHEME = re.compile(r"https?://[^\s/]+(/\S*)?", re.IGNORECASE)


def normalize_link(value: str) -> str:
    """A path of this site (``/fr/categories/chaises``) or a full http(s) address."""
    link = value.strip()
    if not link:
        return ""
    if link.startswith("/") and not link.startswith(("//", "/\\")) and " " not in link:
        return link
    if _SCHEME.fullmatch(link):
        return link
    raise InvalidIdentifier(
        _l(
            "Enter a path of the shop starting with /, e.g. /fr/categories/chaises, "
            "or a full https:// address."
        )
    )


def saved() -> dict[str, str]:
    """Every hero setting as saved (empty strings for the unset ones)."""
    values = stored(KEYS)
    return {name: values.get(name, "") for name in KEYS}


def texts(lang: str) -> dict[str, str]:
    """The hero of one language: ``title``, ``subtitle``, ``button``, ``link`` (empty when
    not set: the template says its own). Read with every setting of the request, in the one
    query the footer and the payment code share."""
    return {field: (configured(key(field, lang), "") or "").strip() for field in FIELDS}


def load_demo_hero() -> list[str]:
    """The demo's hero texts, unless the shop has set some already."""
    if any(saved().values()):
        return []
    update_settings(DEMO)
    return ["storefront: demo home page hero"]
