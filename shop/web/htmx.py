"""Page or fragment: one decision for every view.

An HTMX request gets the fragment (the very template the page includes); a normal
request, and an HTMX history-restore request, get the full page. Either way the
response varies on ``HX-Request`` so caches keep them apart.
"""

from __future__ import annotations

from typing import Any

from flask import make_response, render_template
from werkzeug.wrappers import Response

from shop.extensions import htmx


def wants_fragment() -> bool:
    return bool(htmx) and not htmx.history_restore_request


def render(
    page: str, fragment: str | None = None, *, status: int = 200, **context: Any
) -> Response:
    template = fragment if fragment and wants_fragment() else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def redirect_to(location: str, status: int = 303) -> Response:
    """Redirect a normal request with 303, an HTMX one with ``HX-Redirect``."""
    if htmx:
        response = make_response("", 200)
        response.headers["HX-Redirect"] = location
    else:
        response = make_response("", status)
        response.headers["Location"] = location
    response.vary.add("HX-Request")
    return response
