"""/healthz: is the database reachable, and Redis when it is configured?"""

from __future__ import annotations

import redis
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from shop.extensions import db
from shop.queue import redis_connection

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as error:
        db.session.rollback()
        current_app.logger.warning("healthz: database down", extra={"error": str(error)})
        checks["database"] = "down"
    connection = redis_connection()
    if connection is None:
        checks["redis"] = "not configured"
    else:
        try:
            connection.ping()
            checks["redis"] = "ok"
        except redis.RedisError as error:
            current_app.logger.warning("healthz: redis down", extra={"error": str(error)})
            checks["redis"] = "down"
    healthy = all(state in ("ok", "not configured") for state in checks.values())
    response = jsonify(status="ok" if healthy else "unavailable", checks=checks)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
