"""Store settings kept in ``platform_config``: plain text values read with a default.

Secrets (encrypted values) get their own helpers later; these two read and write clear text.
"""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from shop.extensions import db
from shop.platform.models import PlatformConfig

PRICES_INCLUDE_TAX = "prices_include_tax"
_TRUE = frozenset({"1", "true", "yes", "on"})


def get_setting(key: str, default: str) -> str:
    row = db.session.get(PlatformConfig, key)
    return default if row is None else row.value


def set_setting(key: str, value: str) -> None:
    """Store ``value`` under ``key`` and commit.

    An upsert rather than read-then-write, so two staff members saving at once cannot
    trip over the primary key.
    """
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(PlatformConfig).values(key=key, value=value, encrypted=False)
    statement = statement.on_conflict_do_update(
        index_elements=[PlatformConfig.key],
        set_={"value": value, "encrypted": False, "updated_at": db.func.now()},
    )
    db.session.execute(statement)
    db.session.commit()


def prices_include_tax() -> bool:
    """Whether catalogue prices are entered and shown tax included (TTC), as French shops do."""
    return get_setting(PRICES_INCLUDE_TAX, "true").strip().lower() in _TRUE
