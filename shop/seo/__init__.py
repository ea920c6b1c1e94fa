"""What search engines see: sitemaps, robots.txt, and a check of the pages they index."""

from __future__ import annotations

# Per-visitor and search pages: noindex, disallowed in robots.txt, never in a sitemap, and
# skipped by the link check. Prefixes of public paths.
PRIVATE_PATHS = (
    "/fr/panier",
    "/en/cart",
    "/fr/commande",
    "/en/checkout",
    "/fr/compte/",
    "/en/account/",
    "/fr/recherche",
    "/en/search",
    "/admin/",
)


def is_private(path: str) -> bool:
    return path.startswith(PRIVATE_PATHS) or path.rstrip("/") + "/" in PRIVATE_PATHS
