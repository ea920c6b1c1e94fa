"""Reading listing parameters from the query string: bad values never reach the database."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound

from shop import paging
from shop.catalogue.queries import SORTS, ListingFilters

_PRICE = re.compile(r"^\s*(\d{1,7})(?:[.,](\d{1,2}))?\s*(?:€|eur|\$)?\s*$", re.IGNORECASE)
MAX_TAGS = 10


def parse_price(raw: str | None) -> tuple[int | None, bool]:
    """('12,50' -> 1250, ok); an empty value is no filter; a bad one is (None, False)."""
    if raw is None or not raw.strip():
        return None, True
    match = _PRICE.match(raw)
    if not match:
        return None, False
    try:
        amount = Decimal(f"{match.group(1)}.{match.group(2) or '0'}")
    except InvalidOperation:
        return None, False
    return int(amount * 100), True


def parse_page(raw: str | None) -> int:
    if raw is None:
        return 1
    page = paging.parse_page(raw)
    if page is None:
        raise NotFound()
    return page


def listing_filters(
    args: MultiDict[str, str], default_sort: str = "relevance"
) -> tuple[ListingFilters, list[str]]:
    """The filters, and the names of the fields whose values were not understood."""
    bad: list[str] = []
    min_price, ok = parse_price(args.get("min"))
    if not ok:
        bad.append("min")
    max_price, ok = parse_price(args.get("max"))
    if not ok:
        bad.append("max")
    sort = args.get("sort", default_sort)
    if sort not in SORTS:
        bad.append("sort")
        sort = default_sort
    tags = tuple(
        sorted({t for t in args.getlist("tag") if t and len(t) <= 100 and t.isprintable()})
    )[:MAX_TAGS]
    filters = ListingFilters(
        tags=tags,
        min_price=min_price,
        max_price=max_price,
        in_stock=args.get("stock") == "1",
        sort=sort,
        page=parse_page(args.get("page")),
    )
    return filters, bad
