"""Checkout rules (tax rates, shipping methods, the tax-inclusive setting), read once per
process and kept until staff change them.

Checkout reads them on every quote and order; staff change them a few times a year. Each
process keeps what it read with the version it read it at, and any commit that writes a
tax rate, a shipping method or a store setting through the session (objects, bulk INSERT,
UPDATE or DELETE: every writer is covered, it need not remember to call anything) bumps
that version in Redis, so every process reads the database again on its next use. A
session that has written such a row but not committed yet reads the database (it sees its
own change). A copy is also dropped after ``MAX_AGE`` seconds, for the case Redis was down
when a change was made. Without Redis (the embedded default) the version is a stamp file
every process on the same database sees (``shop.local_versions``, one ``stat`` per
transaction), as for the catalogue cache.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from itertools import chain
from typing import Any, TypeVar

import redis
from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from shop import local_versions
from shop.checkout.models import ShippingMethod, TaxRate
from shop.extensions import db
from shop.platform.models import PlatformConfig
from shop.queue import redis_connection

log = logging.getLogger("shop.checkout")
VERSION_KEY = "comptoir:checkout-rules:version"
LOCAL_VERSION = "checkout-rules"
MAX_AGE = 60.0
_STORE = "comptoir_checkout_rules"
_WRITTEN = "comptoir_checkout_rules_written"  # session.info: a watched row changed
_VERSION = "comptoir_checkout_rules_version"  # session.info: the version this transaction read
_UNREAD = object()
_MODELS = (TaxRate, ShippingMethod, PlatformConfig)
_TABLES = frozenset(model.__tablename__ for model in _MODELS)

T = TypeVar("T")


def cached(key: Hashable, load: Callable[[], T]) -> T:
    """What ``load()`` returns (plain data, never ORM objects), kept for this process while
    the rules do not change. Costs one Redis GET (without Redis, one ``stat``) per
    transaction (the version is read once in a transaction: a quote sees one set of rules);
    ``load`` runs on a miss."""
    connection = redis_connection()
    session = db.session()
    if session.info.get(_WRITTEN):
        return load()
    version = session.info.get(_VERSION, _UNREAD)
    if version is _UNREAD:
        if connection is None:
            version = local_versions.read(LOCAL_VERSION)
        else:
            try:
                version = connection.get(VERSION_KEY)
            except redis.RedisError:
                return load()
        if session.in_transaction():  # forgotten when it ends
            session.info[_VERSION] = version
    store: dict[Hashable, tuple[Any, float, Any]] = current_app.extensions.setdefault(_STORE, {})
    now = time.monotonic()
    entry = store.get(key)
    if entry is not None and entry[0] == version and now - entry[1] < MAX_AGE:
        return entry[2]
    value = load()
    store[key] = (version, now, value)
    return value


def rules_changed() -> None:
    """Every process reads the checkout rules again (called after a commit that changed
    them; also usable after a change made outside the app, e.g. with psql)."""
    current_app.extensions.pop(_STORE, None)
    connection = redis_connection()
    if connection is None:
        local_versions.bump(LOCAL_VERSION)
        return
    try:
        connection.incr(VERSION_KEY)
    except redis.RedisError as error:
        log.warning("checkout rules version not bumped", extra={"error": str(error)})


# -- noticing writes -----------------------------------------------------------------------


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    if not session.info.get(_WRITTEN) and any(
        isinstance(instance, _MODELS)
        for instance in chain(session.new, session.dirty, session.deleted)
    ):
        session.info[_WRITTEN] = True


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete or state.is_insert:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in _TABLES:
            state.session.info[_WRITTEN] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_WRITTEN, False) and has_app_context():
        rules_changed()


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_WRITTEN, None)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_VERSION, None)
