"""Version stamps shared by every process of one machine without Redis: a file's mtime.

Without ``REDIS_URL`` (the embedded default) the caches still need to learn at once that
another process changed what they hold: the admin in another gunicorn worker, a ``flask
shop ...`` command, a job. Each stamp is the modification time of a small empty file,
beside the SQLite database (``shop.db-catalogue-version``: every process on that database
finds it) or, for another database, in the instance folder. Reading a stamp is one
``stat`` (a few µs; a row in the database would cost a query per request, 20–200 µs);
bumping it sets the mtime under an exclusive ``flock``, to at least one millisecond past
the previous stamp, so two changes never share a stamp. A stamp is milliseconds since the
epoch, like the Redis versions, and 0 before the first change.

Processes on other machines do not see these files: several machines need Redis.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy.engine import make_url

try:
    import fcntl
except ImportError:  # pragma: no cover  (not POSIX: bumps are not serialized)
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("shop.cache")
_PATHS = "comptoir_local_version_paths"
_NS_PER_MS = 1_000_000


def path(name: str, app: Flask | None = None) -> Path:
    """Where the stamp ``name`` lives for this app's database."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    paths: dict[str, Path] = app.extensions.setdefault(_PATHS, {})
    found = paths.get(name)
    if found is None:
        url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
        database_name = url.database or ""
        if url.query.get("uri"):
            database_name = database_name.removeprefix("file:").split("?", 1)[0]
        if url.get_backend_name() == "sqlite" and database_name not in ("", ":memory:"):
            # relative to the instance folder, as Flask-SQLAlchemy opens it
            database = (Path(app.instance_path) / database_name).resolve()
            found = database.with_name(f"{database.name}-{name}-version")
        else:
            found = Path(app.instance_path) / "versions" / name
        paths[name] = found
    return found


def read(name: str, app: Flask | None = None) -> int:
    """The stamp, in milliseconds (0 when nothing has changed yet): one ``stat``."""
    try:
        return os.stat(path(name, app)).st_mtime_ns // _NS_PER_MS
    except FileNotFoundError:
        return 0


def bump(name: str, app: Flask | None = None) -> int:
    """Give ``name`` a new stamp, later than any earlier one, and return it (0 when the file
    cannot be written: logged, and the caches catch up within their time to live)."""
    target = path(name, app)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "ab") as file:  # created on first use, never replaced
            if fcntl is not None:
                fcntl.flock(file.fileno(), fcntl.LOCK_EX)  # released when the file closes
            previous = os.fstat(file.fileno()).st_mtime_ns // _NS_PER_MS
            stamp = max(time.time_ns() // _NS_PER_MS, previous + 1)
            os.utime(file.fileno(), ns=(stamp * _NS_PER_MS, stamp * _NS_PER_MS))
            if os.fstat(file.fileno()).st_mtime_ns // _NS_PER_MS != stamp:
                log.warning(
                    "file timestamps too coarse for cache versions: changes may be seen late",
                    extra={"path": str(target)},
                )
    except OSError as error:
        log.error("cache version not bumped", extra={"path": str(target), "error": str(error)})
        return 0
    return stamp
