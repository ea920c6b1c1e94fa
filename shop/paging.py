"""One page of a listing: its rows, where it sits, and how many rows match in all."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select

from shop.extensions import db

T = TypeVar("T")

# The largest id the database can hold: ids are INTEGER columns (32-bit on PostgreSQL;
# SQLite's are wider, but the same bound keeps the two backends answering alike).
MAX_ID = 2**31 - 1
# Pages beyond this are clamped to it (then to the last page by ``paginate``): an offset
# computed from a larger number could overflow the database's 64-bit OFFSET.
MAX_PAGE = 100_000


def parse_id(raw: object) -> int | None:
    """A database id from untrusted text (a query string, a form field): None unless it is a
    whole number from 1 to ``MAX_ID``."""
    text = str(raw) if raw is not None else ""
    if not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def parse_page(raw: object) -> int | None:
    """A page number from untrusted text: None unless it is a whole number from 1, clamped
    to ``MAX_PAGE``. Pages the shop shows to crawlers turn None into a 404 (no endless
    duplicates of page one); the others use ``page_number``."""
    text = str(raw) if raw is not None else ""
    if not text.isascii() or not text.isdigit():
        return None
    if len(text) > len(str(MAX_PAGE)):
        return MAX_PAGE
    value = int(text)
    return min(value, MAX_PAGE) if value >= 1 else None


def page_number(raw: object) -> int:
    """A page number from untrusted text, 1 for anything that is not one."""
    return parse_page(raw) or 1


@dataclass
class Page(Generic[T]):
    rows: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def paginate(query: Select[Any], page: int, per_page: int) -> tuple[list[Any], int, int]:
    """Rows of ``page`` (clamped to the last page) and the total: two queries, whatever the
    size of the page."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    total = int(total or 0)
    last = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), last)
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return list(rows), total, page
