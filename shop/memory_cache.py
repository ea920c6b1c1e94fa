"""A bounded, thread-safe, versioned cache in this process's memory.

The page and fragment cache when there is no Redis (``shop.page_cache``). Entries
carry the version they were built at and are used only at that same version, and only for
``ttl`` seconds, as in Redis; versions only grow, so an entry of a later version is never
replaced by one that a slower request built at an earlier version. The least recently used
entries go first once the cache holds ``max_entries`` entries or about ``max_bytes`` bytes
(strings counted at their size in memory). Values are kept as given, not copied: callers
treat them as read-only.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, NamedTuple


class _Entry(NamedTuple):
    version: int
    expires: float
    size: int
    value: Any


def size_of(value: Any) -> int:
    """Bytes a JSON-like value (dicts, lists, tuples, strings, numbers) takes, roughly."""
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(size_of(k) + size_of(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sys.getsizeof(value) + sum(size_of(item) for item in value)
    return sys.getsizeof(value)


class MemoryCache:
    def __init__(self, *, max_entries: int, max_bytes: int, ttl: float) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl = ttl
        self.bytes = 0
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, version: int) -> Any | None:
        """The value stored under ``key`` at ``version`` and not expired, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.version != version or entry.expires <= time.monotonic():
                if entry.version <= version:  # outdated (a slower request may be behind)
                    self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry.value

    def set(self, key: Hashable, version: int, value: Any) -> None:
        size = size_of(key) + size_of(value)
        if size > self.max_bytes or self.max_entries <= 0:
            return
        entry = _Entry(version, time.monotonic() + self.ttl, size, value)
        with self._lock:
            if (current := self._entries.get(key)) is not None:
                if current.version > version:  # built by a request that started later
                    return
                self._drop(key)
            self._entries[key] = entry
            self.bytes += size
            while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def _drop(self, key: Hashable) -> None:
        self.bytes -= self._entries.pop(key).size
