"""Catalogue text: slugs and sanitized descriptions."""

from __future__ import annotations

import re
import unicodedata

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


def plain_text(html: str) -> str:
    return re.sub(r"\s+", " ", nh3.clean(html or "", tags=set())).strip()


def slugify(text: str, max_length: int = 120) -> str:
    """'Chaise en chêne « Élégante »' -> 'chaise-en-chene-elegante'."""
    ascii_text = (
        unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    )
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    return slug[:max_length].rstrip("-") or "produit"
