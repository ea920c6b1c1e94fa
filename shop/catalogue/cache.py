"""Catalogue fragment cache in Redis, invalidated by a version bumped on every catalogue change.

Keys carry the catalogue version, so a change makes every older fragment unreachable at once
(they expire on their own). Without Redis (the embedded default) nothing is cached. With
Redis down, pages render from the database as if there were no cache.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

import redis
from flask import current_app, g
from markupsafe import Markup

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


def fragment(parts: tuple[object, ...], render: Callable[[], str]) -> Markup:
    """The rendered fragment for ``parts`` from Redis, rendering and storing it on a miss."""
    connection = redis_connection()
    if connection is None or not current_app.config.get("FRAGMENT_CACHE", True):
        return Markup(render())
    digest = hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()
    key = f"comptoir:frag:{version()}:{digest}"
    try:
        cached = connection.get(key)
    except redis.RedisError:
        cached = None
    if cached is not None:
        return Markup(cached.decode())
    html = render()
    try:
        connection.setex(key, FRAGMENT_TTL, html)
    except redis.RedisError as error:
        log.warning("fragment not cached", extra={"error": str(error)})
    return Markup(html)
