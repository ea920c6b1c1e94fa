"""What a catalogue item tells search engines beyond its text: a canonical address override,
a noindex switch and the image shared on social networks.

A canonical override is an absolute http(s) URL or a path of the shop ("/fr/produits/…"),
stored as typed; pages resolve a path against ``PUBLIC_BASE_URL``. The sitemaps keep an
item only while each of its languages is canonical to itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from werkzeug.urls import iri_to_uri

from shop.catalogue.errors import CanonicalRefused
from shop.catalogue.models import CANONICAL_URL_LENGTH
from shop.config import LOCALES

_FORBIDDEN = re.compile(r"[\s\\<>\"'`\x00-\x1f\x7f]")


class BadCanonical(ValueError):
    """Not an address a canonical link may carry; ``message`` says what is expected."""

    message = _l(
        "Please enter a full address starting with https:// (or http://), or an address of "
        "this shop starting with /, such as /fr/produits/chaise."
    )


class CanonicalTooLong(BadCanonical):
    message = _l("Please use at most %(max)d characters.", max=CANONICAL_URL_LENGTH)


def clean_canonical(value: str) -> str:
    """The override to store ("" for none), or ``BadCanonical``."""
    value = (value or "").strip()
    if not value:
        return ""
    if len(value) > CANONICAL_URL_LENGTH:
        raise CanonicalTooLong(value)
    if _FORBIDDEN.search(value):
        raise BadCanonical(value)
    if value.startswith("/"):
        if value.startswith("//"):  # scheme-relative: another host in disguise
            raise BadCanonical(value)
        return value
    try:
        parts = urlsplit(value)
        port = parts.port  # ValueError on a port that is not a number
    except ValueError as error:
        raise BadCanonical(value) from error
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or "@" in parts.netloc:
        raise BadCanonical(value)
    if port == 0 or ("." not in host and host != "localhost"):
        raise BadCanonical(value)
    return value


def canonical_errors(texts: Mapping[str, Any]) -> list[CanonicalRefused]:
    """One refusal per language whose canonical override is not an address."""
    errors = []
    for locale in LOCALES:
        try:
            clean_canonical(getattr(texts.get(locale), "canonical_url", "") or "")
        except BadCanonical as error:
            errors.append(CanonicalRefused(error.message, field=f"{locale}-canonical_url"))
    return errors


def canonical_url(override: str, own_url: str, base_url: str) -> str:
    """The address a page names as canonical: its override resolved, else itself."""
    if not override:
        return own_url
    absolute = base_url.rstrip("/") + override if override.startswith("/") else override
    return iri_to_uri(absolute)


def points_elsewhere(override: str, own_path: str, base_url: str) -> bool:
    """True when the override names another page than ``own_path`` (on ``base_url``)."""
    return bool(override) and override not in (own_path, base_url.rstrip("/") + own_path)
