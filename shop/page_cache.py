"""The storefront's page and fragment cache, invalidated by a version bumped on every change
shoppers can see in the catalogue (products, prices, stock, categories).

A foundation: the catalogue, the inventory and the orders tell it of their changes
(``catalogue_changed``), the storefront views read through it; it imports none of them.

Entries carry the catalogue version they were built at; an entry of an older version is
rebuilt. With Redis, entries live in Redis and one read fetches the current version and the
entry together; with Redis down, pages render from the database as if there were no cache.
Without Redis (the embedded default), entries live in this process's memory (bounded, see
``shop.memory_cache``) and the version is a stamp file every process on the same database
sees (``shop.local_versions``), read once per request: a change made by the admin in
another worker, a command or a job is seen on the next request everywhere.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from flask import Flask, current_app, g, has_app_context

from shop import local_versions
from shop.memory_cache import MemoryCache
from shop.queue import redis_connection

log = logging.getLogger("shop.cache")
VERSION_KEY = "comptoir:catalogue:version"
LOCAL_VERSION = "catalogue"
FRAGMENT_TTL = 600
_MEMORY = "comptoir_page_cache"


def catalogue_changed() -> None:
    """Call after committing any change shoppers can see in the catalogue."""
    if has_app_context():
        g.pop("catalogue_version", None)
    connection = redis_connection()
    if connection is None:
        local_versions.bump(LOCAL_VERSION)
        return
    state = current_app.extensions.setdefault("comptoir_catalogue_version", {"v": 0})
    state["v"] = int(time.time() * 1000)
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
    if connection is None:
        value = local_versions.read(LOCAL_VERSION)
    else:
        try:
            raw = connection.get(VERSION_KEY)
            value = int(raw) if raw else 0
        except redis.RedisError:
            value = _local_version()
    g.catalogue_version = value
    return value


def _local_version() -> int:
    """With Redis down: this process's own changes only (nothing is cached meanwhile)."""
    return current_app.extensions.get("comptoir_catalogue_version", {"v": 0})["v"]


def memory(app: Flask | None = None) -> MemoryCache:
    """This process's page cache (used when there is no Redis)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    store = app.extensions.get(_MEMORY)
    if store is None:
        store = app.extensions.setdefault(
            _MEMORY,
            MemoryCache(
                max_entries=app.config["PAGE_CACHE_MAX_ENTRIES"],
                max_bytes=app.config["PAGE_CACHE_MAX_BYTES"],
                ttl=FRAGMENT_TTL,
            ),
        )
    return store


def cached(parts: tuple[object, ...], build: Callable[[], Any]) -> Any:
    """What ``build`` returns (JSON-able: page meta and rendered HTML), from the cache when
    this catalogue version already built it. ``build`` does all the database work, so a hit
    costs no query at all: one Redis round trip (the version and the entry come together),
    or without Redis one ``stat`` per request and a dictionary lookup."""
    if not current_app.config.get("FRAGMENT_CACHE", True):
        return build()
    connection = redis_connection()
    if connection is None:
        return _cached_in_memory(parts, build)
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


def _cached_in_memory(parts: tuple[object, ...], build: Callable[[], Any]) -> Any:
    current = version()
    store = memory()
    key = repr(parts)
    value = store.get(key, current)
    if value is None:
        value = build()
        store.set(key, current, value)
    return value
