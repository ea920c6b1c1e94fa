"""Catalogue text: slugs and sanitized descriptions."""

from __future__ import annotations

import re
import unicodedata
from html import unescape

import nh3

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "b",
    "i",
    "ul",
    "ol",
    "li",
    "h2",
    "h3",
    "h4",
    "blockquote",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title", "hreflang"}, "th": {"scope"}}


def sanitize_description(html: str) -> str:
    """Only structural markup survives; links get rel=noopener, scripts and styles go."""
    cleaned = nh3.clean(
        html or "",
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    # nh3 writes French no-break spaces as entities; keep the character itself, so text
    # search never indexes "nbsp".
    return cleaned.replace("&nbsp;", "\u00a0")


# Block elements end a line of text: a space keeps "<p>One.</p><p>Two.</p>" two sentences.
_BLOCK_BOUNDARY = re.compile(r"<(?=/?(?:p|br|li|h[2-4]|blockquote|tr|th|td|ul|ol|table)\b)")
# Runs of ordinary white space; the no-break spaces of French typography stay as they are.
_SPACES = re.compile(r"[^\S\u00a0\u202f]+")


def plain_text(html: str) -> str:
    """The text of sanitized HTML as a reader sees it: no tags, entities decoded into their
    characters (``&nbsp;`` is U+00A0, ``&amp;`` is &), white space collapsed. For places
    that escape what they print themselves (JSON-LD, meta tags) or only test for content."""
    text = nh3.clean(_BLOCK_BOUNDARY.sub(" <", html or ""), tags=set())
    return _SPACES.sub(" ", unescape(text)).strip()


# Letters NFKD does not decompose into ASCII, by how French and English readers spell them
# (ligatures such as ﬁ and ĳ, and accented letters, NFKD handles itself).
_TRANSLITERATION = str.maketrans(
    {
        "œ": "oe",
        "Œ": "OE",
        "æ": "ae",
        "Æ": "AE",
        "ß": "ss",
        "ẞ": "SS",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "TH",
        "ı": "i",
        "ħ": "h",
        "Ħ": "H",
        "ŧ": "t",
        "Ŧ": "T",
        "ŋ": "ng",
        "Ŋ": "NG",
        "ĸ": "k",
    }
)


def slugify(text: str, max_length: int = 120) -> str:
    """'Chaise en chêne « Élégante »' -> 'chaise-en-chene-elegante';
    'Coup de cœur' -> 'coup-de-coeur'; 'Carnet d’artiste' -> 'carnet-d-artiste'.

    Accents go (NFKD, then the combining marks dropped), the letters in the table are spelt
    out, and anything else that is not a letter or digit of ASCII separates words, as a
    space or an apostrophe does."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATION))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    slug = re.sub(r"[^a-z0-9]+", "-", bare).strip("-")
    return slug[:max_length].rstrip("-") or "produit"
