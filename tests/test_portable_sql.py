"""The SQL the shop writes runs on both backends: PostgreSQL and SQLite (the embedded default).

Where the two differ, ``shop/sql.py`` decides; everywhere else uses only SQL functions both
have. The whole-site walk (tests/test_site_walk.py) runs every page on both databases; this
test catches a non-portable function before any page happens to reach it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, literal_column, select

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "shop"

# SQL functions PostgreSQL 15 and SQLite 3.40 (Debian 12's) both have, or that SQLAlchemy
# compiles to something both have (now -> CURRENT_TIMESTAMP).
PORTABLE_FUNCTIONS = {
    "abs",
    "coalesce",
    "count",
    "length",
    "lower",
    "max",
    "min",
    "now",
    "nullif",
    "row_number",
    "sum",
    "upper",
}
# The one module that decides what differs, and the column type that is a tsvector on
# PostgreSQL and text on SQLite (a type's own dialect switch, as SQLAlchemy intends).
DIALECT_DECIDERS = {SHOP / "sql.py", SHOP / "catalogue" / "models.py"}


def _python_files() -> list[Path]:
    return sorted(SHOP.rglob("*.py"))


def _sql_functions(tree: ast.AST) -> list[tuple[int, str]]:
    """``db.func.X`` anywhere, and ``func.X`` where ``func`` is SQLAlchemy's."""
    imports_func = any(
        isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith("sqlalchemy")
        and any(alias.name == "func" for alias in node.names)
        for node in ast.walk(tree)
    )
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or node.attr.startswith("_"):
            continue
        owner = node.value
        if (isinstance(owner, ast.Attribute) and owner.attr == "func") or (
            isinstance(owner, ast.Name) and owner.id == "func" and imports_func
        ):
            found.append((node.lineno, node.attr))
    return sorted(found)


def test_only_functions_both_databases_have_outside_the_deciding_module():
    offending = []
    for path in _python_files():
        if path == SHOP / "sql.py":
            continue
        for line, name in _sql_functions(ast.parse(path.read_text(encoding="utf-8"))):
            if name not in PORTABLE_FUNCTIONS:
                offending.append(f"{path.relative_to(ROOT)}:{line} func.{name}")
    # full-text search is PostgreSQL's own: queries.search() takes the dialect from shop.sql
    allowed = {
        "shop/catalogue/queries.py func.to_tsquery",
        "shop/catalogue/queries.py func.ts_rank",
    }
    offending = [o for o in offending if _without_line(o) not in allowed]
    assert offending == [], "use shop/sql.py for SQL one backend lacks:\n" + "\n".join(offending)


def _without_line(where: str) -> str:
    path, rest = where.split(":", 1)
    return f"{path} {rest.split(' ', 1)[1]}"


def test_no_code_asks_which_database_outside_the_deciding_module():
    asking = []
    for path in _python_files():
        if path in DIALECT_DECIDERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            asks = isinstance(node, ast.Attribute) and node.attr == "dialect"
            if asks and not (isinstance(node.value, ast.Name) and node.value.id == "sql"):
                asking.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert asking == [], "ask shop.sql.dialect() instead:\n" + "\n".join(asking)


def test_the_guard_knows_a_non_portable_function_when_it_sees_one():
    tree = ast.parse("from sqlalchemy import func\nx = func.concat(a, b)\ny = db.func.count()")
    assert _sql_functions(tree) == [(2, "concat"), (3, "count")]
    assert _sql_functions(ast.parse("def f(func):\n    func.coalesced = True")) == []


@pytest.mark.parametrize("name", sorted(PORTABLE_FUNCTIONS - {"row_number", "now"}))
def test_every_allowed_function_runs_on_sqlite(name):
    arguments = {
        "count": (),
        "coalesce": (literal_column("NULL"), literal_column("'x'")),
        "nullif": (literal_column("1"), literal_column("2")),
    }.get(name, (literal_column("'Abc'") if name in ("lower", "upper", "length") else 1,))
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        connection.execute(select(getattr(func, name)(*arguments)))
    engine.dispose()


def test_concat_compiles_to_the_operator_both_databases_have(app):
    from sqlalchemy import column, table
    from sqlalchemy.dialects import postgresql, sqlite

    from shop import sql

    names = table("t", column("first"), column("last"))
    with app.app_context():
        expression = sql.concat(names.c.first, " ", names.c.last)
    for dialect in (postgresql.dialect(), sqlite.dialect()):
        compiled = str(expression.compile(dialect=dialect))
        assert "concat" not in compiled.lower()
        assert compiled.count("||") == 2
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        joined = connection.execute(
            select(sql.concat(literal_column("'Camille'"), " ", literal_column("'Durand'")))
        ).scalar_one()
    engine.dispose()
    assert joined == "Camille Durand"
