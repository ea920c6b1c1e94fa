"""One page of a listing: its rows, where it sits, and how many rows match in all."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select

from shop.extensions import db

T = TypeVar("T")


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
