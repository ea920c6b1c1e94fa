"""Catalogue fragment cache in Redis, invalidated by a version bumped on every catalogue change.

Keys carry the catalogue version, so a change makes every older fragment unreachable at once
(they expire on their own). Without Redis (the embedded default) nothing is cached. With
Redis down, pages render from the database as if there were no cache.
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
        value = current_app.extensions.get("comptoir_catalogue_version", {"v": 0})["v"]
    g.catalogue_version = value
    return value


def cached(parts: tuple[object, ...], build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """What ``build`` returns (JSON-able: page meta and rendered HTML), from Redis when this
    catalogue version already built it. ``build`` does all the database work, so a hit
    costs no query at all."""
    connection = redis_connection()
    if connection is None or not current_app.config.get("FRAGMENT_CACHE", True):
        return build()
    digest = hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()
    key = f"comptoir:frag:{version()}:{digest}"
    try:
        hit = connection.get(key)
    except redis.RedisError:
        hit = None
    if hit is not None:
        return json.loads(hit)
    value = build()
    try:
        connection.set(key, json.dumps(value, separators=(",", ":")), ex=FRAGMENT_TTL)
    except redis.RedisError as error:
        log.warning("fragment not cached", extra={"error": str(error)})
    return value
