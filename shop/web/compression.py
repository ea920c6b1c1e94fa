"""Compressed responses: gzip, and brotli when the ``brotli`` package is installed.

Every text response (HTML, CSS, JS, SVG, JSON, XML) of 1 KiB or more is compressed for a
client that accepts it, in an ``after_request`` hook, except those carrying the session's
CSRF token (BREACH, see ``compress_response``). The storefront's cached pages are
compressed once, not per request: the page a visitor without a session gets is the same
bytes for everyone during an hour (its only per-request part is the public CSRF token,
see ``shop.web.security``), so its compressed body is kept per process, keyed by the page,
the catalogue version, the token and the encoding (``remembered``). Static files are
compressed once at start-up (``shop.web.assets``).
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from collections.abc import Callable

from flask import Flask, current_app, g, request
from werkzeug.wrappers import Response

try:
    import brotli
except ImportError:  # pragma: no cover - brotli is a dependency, but optional here
    brotli = None

COMPRESSIBLE = frozenset(
    {
        "text/html",
        "text/css",
        "text/plain",
        "text/javascript",
        "text/xml",
        "application/javascript",
        "application/json",
        "application/ld+json",
        "application/manifest+json",
        "application/xml",
        "image/svg+xml",
    }
)
MIN_SIZE = 1024
REMEMBERED_PAGES = 512
_STORE = "comptoir_compressed_pages"


def negotiate() -> str | None:
    """``br`` or ``gzip`` (in that order of preference) if the client accepts it."""
    accepted = request.accept_encodings
    if brotli is not None and accepted["br"]:
        return "br"
    if accepted["gzip"]:
        return "gzip"
    return None


def compress(data: bytes, encoding: str, *, best: bool = False) -> bytes:
    """``best``: for files compressed once at start-up (brotli's slowest, smallest
    setting: tens of milliseconds for a 50 KB file). Pages and other responses take
    brotli 5 and gzip 6: a millisecond or two for a page, compressed once per page, token
    and catalogue version, but possibly on a shopper's request."""
    if encoding == "br" and brotli is not None:
        return brotli.compress(data, quality=11 if best else 5)
    return gzip.compress(data, compresslevel=9 if best else 6, mtime=0)


def compressible(mimetype: str | None) -> bool:
    return mimetype in COMPRESSIBLE


class _Remembered:
    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[object, ...], make: Callable[[], bytes]) -> bytes:
        with self.lock:
            body = self.items.get(key)
            if body is not None:
                self.items.move_to_end(key)
                return body
        body = make()
        with self.lock:
            self.items[key] = body
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return body


def remembered(key: tuple[object, ...], make: Callable[[], bytes]) -> bytes:
    """A compressed body made once per key in this process (bounded, least recently used
    out first)."""
    store = current_app.extensions.get(_STORE)
    if store is None:
        store = current_app.extensions.setdefault(_STORE, _Remembered(REMEMBERED_PAGES))
    return store.get(key, make)


def compress_response(response: Response) -> Response:
    if (
        response.direct_passthrough
        or response.is_streamed
        or not compressible(response.mimetype)
        or response.status_code in (204, 206, 304)
        or response.status_code < 200
    ):
        return response
    response.vary.add("Accept-Encoding")
    if "Content-Encoding" in response.headers:
        return response
    if g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")):
        # BREACH: the session's CSRF token is the same in every response (Flask-WTF does
        # not mask it), and a page may reflect what a request asked for (the search
        # box): compressing both together would let the length of encrypted responses
        # reveal the token. Responses with a session token go uncompressed; the public
        # token of the cached pages is no secret.
        return response
    encoding = negotiate()
    if encoding is None:
        return response
    data = response.get_data()
    if len(data) < MIN_SIZE:
        return response
    response.set_data(compress(data, encoding))
    response.headers["Content-Encoding"] = encoding
    etag, weak = response.get_etag()
    if etag and not weak:
        response.set_etag(f"{etag}-{encoding}")
    return response


def init_app(app: Flask) -> None:
    app.after_request(compress_response)
