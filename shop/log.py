"""JSON log lines, each carrying the request id, and one line per request."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, g, has_app_context, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context() and (request_id := g.get("request_id")):
            line["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (so test capture and reloaders see it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


_LEVEL_KEY = "shop.log_level"
# The lowest level an app of this process asked for: the loggers' own level (loggers belong
# to the process, and a test process builds many apps; the last one must not silence the
# others). Each app's own level is then applied by the handler, see _AppLevel.
_lowest: int | None = None


def _level_number(level: int | str) -> int:
    if isinstance(level, int):
        return level
    number = logging.getLevelNamesMapping().get(str(level))
    if number is None:
        raise ValueError(f"Unknown level: {level!r}")
    return number


class _AppLevel(logging.Filter):
    """Lets through a record at or above the ``LOG_LEVEL`` of the app it was logged in (or,
    outside any app context, of the app that configured logging last)."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        level = self.level
        if has_app_context():
            level = current_app.extensions.get(_LEVEL_KEY, level)
        return record.levelno >= level


def configure(app: Flask) -> None:
    global _lowest
    level = _level_number(app.config["LOG_LEVEL"])
    app.extensions[_LEVEL_KEY] = level
    _lowest = level if _lowest is None else min(_lowest, level)
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_AppLevel(level))
    for logger in (logging.getLogger("shop"), logging.getLogger("rq.worker"), app.logger):
        logger.handlers = [handler]
        logger.setLevel(_lowest)
        logger.propagate = False

    request_log = logging.getLogger("shop.request")

    @app.before_request
    def assign_request_id() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response):
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        started = g.get("request_started")
        request_log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2)
                if started
                else None,
                "remote_addr": request.remote_addr,
            },
        )
        return response
