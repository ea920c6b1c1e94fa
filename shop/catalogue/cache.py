"""Catalogue fragment cache in Redis, invalidated by a version bumped on every catalogue change.

Entries carry the catalogue version they were built at; one read fetches the current version
and the entry together, and an entry of an older version is rebuilt. Without Redis (the
embedded default) nothing is cached. With Redis down, pages render from the database as if
there were no cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from flask import current_app, g

from shop.jobs import redis_connection

log = logging.getLogger("shop.cache")
VERSION_KEY = "comptoir:catalogue:version"
FRAGMENT_TTL = 600


def catalogue_changed() -> None:
    """Call after committing any change shoppers can see in the catalogue."""
    connection = redis_connection()
    state = current_app.extensions.setdefault("comptoir_catalogue_version", {"v": 0})
    state["v"] = int(time.time() * 1000)
    if connection is None:
        return
    try:
        connection.set(VERSION_KEY, state["v"])
    except redis.RedisError as error:
        log.warning("catalogue version not bumped", extra={"error": str(error)})


def version() -> int:
    """The catalogue version, read once per request."""
    if "catalogue_version" in g:
        return g.catalogue_version
    connection = redis_connection()
    value: int | None = None
    if connection is not None:
        try:
            raw = connection.get(VERSION_KEY)
            value = int(raw) if raw else 0
        except redis.RedisError:
            value = None
    if value is None:
        value = _local_version()
    g.catalogue_version = value
    return value


def _local_version() -> int:
    return current_app.extensions.get("comptoir_catalogue_version", {"v": 0})["v"]


def cached(parts: tuple[object, ...], build: Callable[[], Any]) -> Any:
    """What ``build`` returns (JSON-able: page meta and rendered HTML), from Redis when this
    catalogue version already built it. ``build`` does all the database work, so a hit costs
    no query at all, and one Redis round trip (the version and the entry come together)."""
    connection = redis_connection()
    if connection is None or not current_app.config.get("FRAGMENT_CACHE", True):
        return build()
    digest = hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()
    key = f"comptoir:frag:{digest}"
    try:
        raw_version, hit = connection.mget(VERSION_KEY, key)
    except redis.RedisError:
        g.setdefault("catalogue_version", _local_version())
        return build()
    current = int(raw_version) if raw_version else 0
    g.catalogue_version = current
    if hit is not None:
        entry = json.loads(hit)
        if entry["v"] == current:
            return entry["value"]
    value = build()
    try:
        connection.set(
            key, json.dumps({"v": current, "value": value}, separators=(",", ":")), ex=FRAGMENT_TTL
        )
    except redis.RedisError as error:
        log.warning("fragment not cached", extra={"error": str(error)})
    return value
