"""URL converters: every number in a path is a database id, bounded to what the database holds.

``<int:...>`` is replaced app-wide, so no route can forget: an id the database cannot hold
(beyond ``MAX_ID``, zero, or thousands of digits) answers 404 before any view runs, instead
of an overflow deep in the driver.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map, ValidationError

from shop.paging import MAX_ID


class DatabaseIdConverter(IntegerConverter):
    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> Any:
        if len(value) > len(str(MAX_ID)):  # no int() of a ten-thousand-digit string
            raise ValidationError()
        return super().to_python(value)


def init_app(app: Flask) -> None:
    """Before any blueprint is registered: rules pick their converters when added."""
    app.url_map.converters["int"] = DatabaseIdConverter
