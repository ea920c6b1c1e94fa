"""SQL that PostgreSQL and SQLite (the embedded default) both run: where they differ, the
choice is made here and nowhere else.

tests/test_portable_sql.py keeps it so: outside this module, no code asks which database it
runs on, and SQL functions are limited to those both backends have.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, String, cast, func, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from shop.extensions import db

POSTGRESQL = "postgresql"
SQLITE = "sqlite"


def dialect() -> str:
    """The name of the database the session talks to: ``postgresql`` or ``sqlite``."""
    return db.session.get_bind().dialect.name


def is_postgresql() -> bool:
    return dialect() == POSTGRESQL


def concat(*parts: ColumnElement[Any] | str) -> ColumnElement[str]:
    """Strings joined in SQL with ``||``, which both backends have (SQLite before 3.44 has no
    ``concat()``). A NULL part makes the whole NULL, as ``||`` does: coalesce parts that
    may be missing."""
    expression: ColumnElement[str] = _text(parts[0])
    for part in parts[1:]:
        expression = expression + _text(part)  # String + String compiles to ||
    return expression


def _text(part: ColumnElement[Any] | str) -> ColumnElement[str]:
    return literal(part, String) if isinstance(part, str) else part


def insert(table: Any) -> Any:
    """An INSERT that knows ``on_conflict_do_nothing`` / ``on_conflict_do_update``: both
    backends have ON CONFLICT, each in its own dialect's construct."""
    return (postgresql.insert if is_postgresql() else sqlite.insert)(table)


def local_hour_or_day(column: Any, zone: ZoneInfo) -> Any:
    """A UTC timestamp's local calendar day where the database knows time zones
    (PostgreSQL), else its UTC hour as ``YYYY-MM-DD HH`` text for Python to fold into a local
    day (SQLite knows no zones; the shop's zones are whole hours off UTC)."""
    if is_postgresql():
        return cast(func.timezone(zone.key, column), Date)
    return func.strftime("%Y-%m-%d %H", column)
