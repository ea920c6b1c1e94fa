"""Static files served like production: content-hashed names cached for a year.

At start-up each file under ``static/`` is read once and given a fingerprinted name
(``css/shop.css`` → ``css/shop.3f2a9c1b7e.css``, the first ten hex digits of its SHA-256);
``url_for('static', filename='css/shop.css')`` (templates, emails, JSON-LD) returns the
fingerprinted URL. The static route serves both names: the fingerprinted one with
``Cache-Control: public, max-age=31536000, immutable`` (a changed file gets a new name),
the plain one with a short cache, for links that were made before a deploy. Text files are
compressed once here (brotli at its best and gzip), so a request costs a dictionary lookup;
no session is opened or cookie set for them. In debug mode a file changed on disk is
hashed again when its URL is next built.
"""

from __future__ import annotations

import hashlib
import mimetypes
import threading
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, current_app, g, request
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from shop.web import compression

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"
_EXTENSION = "comptoir_assets"


@dataclass
class Asset:
    plain: str
    hashed: str
    mimetype: str
    body: bytes
    etag: str
    mtime_ns: int
    encoded: dict[str, bytes] = field(default_factory=dict)


def fingerprinted(name: str, digest: str) -> str:
    head, slash, base = name.rpartition("/")
    stem, dot, ext = base.rpartition(".")
    base = f"{stem}.{digest}.{ext}" if dot and stem else f"{base}.{digest}"
    return f"{head}{slash}{base}"


_LOADED: dict[tuple[str, int, int], Asset] = {}  # per process: apps made again reuse them


def _load(folder: Path, path: Path) -> Asset:
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if (known := _LOADED.get(key)) is not None:
        return known
    asset = _read(folder, path, stat.st_mtime_ns)
    _LOADED[key] = asset
    return asset


def _read(folder: Path, path: Path, mtime_ns: int) -> Asset:
    body = path.read_bytes()
    digest = hashlib.sha256(body).hexdigest()
    plain = path.relative_to(folder).as_posix()
    mimetype = mimetypes.guess_type(plain)[0] or "application/octet-stream"
    if mimetype == "application/javascript":
        mimetype = "text/javascript"
    asset = Asset(
        plain=plain,
        hashed=fingerprinted(plain, digest[:10]),
        mimetype=mimetype,
        body=body,
        etag=digest[:32],
        mtime_ns=mtime_ns,
    )
    if compression.compressible(mimetype) and len(body) >= compression.MIN_SIZE:
        encodings = ["gzip"] + (["br"] if compression.brotli is not None else [])
        for encoding in encodings:
            packed = compression.compress(body, encoding, best=True)
            if len(packed) < len(body):
                asset.encoded[encoding] = packed
    return asset


class Manifest:
    """Plain and fingerprinted names of every file under the static folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.by_plain: dict[str, Asset] = {}
        self.by_hashed: dict[str, Asset] = {}
        self.lock = threading.Lock()
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    self._add(_load(folder, path))

    def _add(self, asset: Asset) -> None:
        with self.lock:
            old = self.by_plain.get(asset.plain)
            if old is not None:
                self.by_hashed.pop(old.hashed, None)
            self.by_plain[asset.plain] = asset
            self.by_hashed[asset.hashed] = asset

    def url_name(self, plain: str, *, check: bool = False) -> str | None:
        asset = self.by_plain.get(plain)
        if asset is None:
            return None
        if check:
            path = self.folder / plain
            try:
                if path.stat().st_mtime_ns != asset.mtime_ns:
                    asset = _load(self.folder, path)
                    self._add(asset)
            except OSError:
                return None
        return asset.hashed


def manifest(app: Flask | None = None) -> Manifest:
    return (app or current_app).extensions[_EXTENSION]


def static_url(filename: str) -> str:
    """The URL of a static file (fingerprinted): what ``url_for('static', ...)`` returns."""
    from flask import url_for

    return url_for("static", filename=filename)


def serve_static(filename: str) -> Response:
    files = manifest()
    g.session_free = True
    asset = files.by_hashed.get(filename)
    cache_control = IMMUTABLE
    if asset is None:
        asset = files.by_plain.get(filename)
        cache_control = SHORT
    if asset is None:
        if current_app.debug:  # a file added since start-up
            return current_app.send_static_file(filename)
        raise NotFound()
    accepted = request.accept_encodings
    encoding = next((e for e in ("br", "gzip") if e in asset.encoded and accepted[e]), None)
    body = asset.encoded[encoding] if encoding else asset.body
    response = Response(body, mimetype=asset.mimetype)
    if encoding:
        response.headers["Content-Encoding"] = encoding
        response.set_etag(f"{asset.etag}-{encoding}")
    else:
        response.set_etag(asset.etag)
    if asset.encoded:
        response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = cache_control
    return response.make_conditional(request)


def init_app(app: Flask) -> None:
    if app.static_folder is None:
        return
    files = Manifest(Path(app.static_folder))
    app.extensions[_EXTENSION] = files
    app.view_functions["static"] = serve_static

    @app.url_defaults
    def fingerprint(endpoint: str, values: dict[str, object]) -> None:
        name = values.get("filename") if endpoint == "static" else None
        if isinstance(name, str) and (hashed := files.url_name(name, check=app.debug)):
            values["filename"] = hashed
