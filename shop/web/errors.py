"""Translated error pages: the full page normally, the fragment for HTMX requests."""

from __future__ import annotations

import logging

from flask import Flask, g, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

from shop.config import LOCALES
from shop.web.htmx import render

log = logging.getLogger("shop.errors")

MESSAGES = {
    400: (_l("Bad request"), _l("Your request could not be understood. Please try again.")),
    403: (_l("Access denied"), _l("You do not have permission to see this page.")),
    404: (
        _l("Page not found"),
        _l("The page you are looking for does not exist or has moved."),
    ),
    405: (_l("Not allowed"), _l("This action is not allowed here.")),
    413: (
        _l("File too large"),
        _l("What you sent is too large. Please send a smaller file."),
    ),
    429: (
        _l("Too many attempts"),
        _l("You have made too many attempts. Please wait a moment and try again."),
    ),
    500: (
        _l("Something went wrong"),
        _l("An unexpected error occurred on our side. Please try again in a moment."),
    ),
}
CSRF_MESSAGE = (
    _l("Session expired"),
    _l("Your session has expired or the form was sent from elsewhere. Please try again."),
)


def error_page(status: int, title: str | None = None, message: str | None = None) -> Response:
    default_title, default_message = MESSAGES.get(status, MESSAGES[500])
    # The language switcher leads to each language's home, not to the missing page.
    g.alternates = {lang: url_for("storefront.home", lang=lang) for lang in LOCALES}
    response = render(
        "errors/error.html",
        "errors/_error.html",
        status=status,
        status_code=status,
        title=title or default_title,
        message=message or default_message,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def handle_http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if status not in MESSAGES:
        status = 400 if 400 <= status < 500 else 500
    response = error_page(status)
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    if status == 429 and (retry := getattr(error, "retry_after", None)):
        response.headers["Retry-After"] = str(retry)
    return response


def handle_csrf_error(error: CSRFError) -> Response:
    log.info("csrf rejected", extra={"path": request.path, "reason": error.description})
    return error_page(400, str(CSRF_MESSAGE[0]), str(CSRF_MESSAGE[1]))


def handle_unexpected(error: InternalServerError) -> Response:
    from shop.extensions import db

    db.session.rollback()
    try:
        return error_page(500)
    except Exception:  # the page itself failed: answer plainly rather than not at all
        log.exception("error page failed")
        return Response("500 Internal Server Error", 500, mimetype="text/plain")


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(InternalServerError, handle_unexpected)
