"""Store settings kept in ``platform_config``: plain values read with a default, and
secrets (Stripe keys, the SMTP password) encrypted at rest with ``SETTINGS_ENCRYPTION_KEY``.

Code that runs on every payment or email reads its settings through :func:`configured`: the
value saved in the back office, else the environment's (``app.config``). The rows are read
once per application context (a request, a job), so a change saved by any process is seen
by every other one from its next request, without a cache to invalidate across processes;
a save in the same context forgets what was read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from flask import current_app, g

from shop import sql
from shop.extensions import db
from shop.platform import crypto
from shop.platform.models import PlatformConfig

log = logging.getLogger("shop.platform")
_READ = "platform_config_read"

PRICES_INCLUDE_TAX = "prices_include_tax"
_TRUE = frozenset({"1", "true", "yes", "on"})


def get_setting(key: str, default: str) -> str:
    row = db.session.get(PlatformConfig, key)
    return default if row is None else row.value


def set_setting(key: str, value: str) -> None:
    """Store ``value`` under ``key`` and commit."""
    update_settings({key: value})


def get_secret(key: str) -> str | None:
    """The clear value of a secret saved under ``key``, or None when there is none (or it
    cannot be decrypted any more: the encryption key changed; logged without the value)."""
    row = db.session.get(PlatformConfig, key)
    if row is None:
        return None
    return _clear(key, row.value, row.encrypted)


def set_secret(key: str, value: str) -> None:
    """Encrypt ``value`` and store it under ``key``; commits."""
    update_settings({}, secrets={key: value})


def update_settings(
    values: Mapping[str, str],
    *,
    secrets: Mapping[str, str] | None = None,
    remove: Iterable[str] = (),
) -> None:
    """Save one form's settings in one transaction: clear ``values``, encrypted ``secrets``,
    and ``remove`` the keys given (back to the default or the environment); commits.

    Upserts rather than read-then-write, so two staff members saving at once cannot trip
    over the primary key.
    """
    rows = {key: (value, False) for key, value in values.items()}
    rows.update({key: (crypto.encrypt(value), True) for key, value in (secrets or {}).items()})
    for key, (value, encrypted) in rows.items():
        statement = sql.insert(PlatformConfig).values(key=key, value=value, encrypted=encrypted)
        statement = statement.on_conflict_do_update(
            index_elements=[PlatformConfig.key],
            set_={"value": value, "encrypted": encrypted, "updated_at": db.func.now()},
        )
        db.session.execute(statement)
    removed = [key for key in remove if key not in rows]
    if removed:
        db.session.execute(db.delete(PlatformConfig).where(PlatformConfig.key.in_(removed)))
    db.session.commit()
    forget_read_settings()


def stored(keys: Iterable[str]) -> dict[str, str]:
    """The saved values of ``keys`` (secrets decrypted), read in one query; unsaved keys
    are absent."""
    wanted = list(keys)
    rows = db.session.execute(
        db.select(PlatformConfig.key, PlatformConfig.value, PlatformConfig.encrypted).where(
            PlatformConfig.key.in_(wanted)
        )
    ).all()
    found = {key: _clear(key, value, encrypted) for key, value, encrypted in rows}
    return {key: value for key, value in found.items() if value is not None}


def configured(key: str, config_name: str) -> str | None:
    """The value saved in the back office under ``key``, else ``app.config[config_name]``.

    Every setting row is read (and secrets decrypted) once per application context.
    """
    read: dict[str, str] | None = g.get(_READ)
    if read is None:
        rows = db.session.execute(
            db.select(PlatformConfig.key, PlatformConfig.value, PlatformConfig.encrypted)
        ).all()
        read = {}
        for name, value, encrypted in rows:
            clear = _clear(name, value, encrypted)
            if clear is not None:
                read[name] = clear
        setattr(g, _READ, read)
    value = read.get(key)
    return value if value else (current_app.config.get(config_name) or None)


def forget_read_settings() -> None:
    """After a save: the next :func:`configured` in this context reads the rows again."""
    g.pop(_READ, None)


def _clear(key: str, value: str, encrypted: bool) -> str | None:
    if not encrypted:
        return value
    try:
        return crypto.decrypt(value)
    except crypto.SecretUnreadable:
        log.error("stored secret cannot be decrypted", extra={"setting": key})
        return None


def prices_include_tax() -> bool:
    """Whether catalogue prices are entered and shown tax included (TTC), as French shops do."""
    return get_setting(PRICES_INCLUDE_TAX, "true").strip().lower() in _TRUE
