"""Security defaults: CSRF on every POST, strict CSP and the usual response headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request
from flask_wtf.csrf import validate_csrf
from werkzeug.wrappers import Response
from wtforms.validators import ValidationError

from shop.extensions import csrf

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORM_VIEW_FLAG = "_validates_own_csrf"

V = TypeVar("V", bound=Callable[..., Any])


def form_view(view: V) -> V:
    """Mark a view whose FlaskForm checks the CSRF token itself.

    Such a view re-renders its form (input kept, 400) when the token is missing or
    stale, instead of the generic CSRF error page. Every other unsafe request is
    checked before the view runs.
    """
    setattr(view, _FORM_VIEW_FLAG, True)
    return view


def _check_csrf() -> None:
    if request.method not in UNSAFE_METHODS or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    if view is None:
        return
    if getattr(view, _FORM_VIEW_FLAG, False):
        _accept_header_token()
        return
    if request.blueprint in current_app.config.get("CSRF_EXEMPT_BLUEPRINTS", ()):
        return
    csrf.protect()


def _accept_header_token() -> None:
    """HTMX sends the token in a header: a valid one counts for the form's own check too."""
    for name in current_app.config["WTF_CSRF_HEADERS"]:
        if token := request.headers.get(name):
            try:
                validate_csrf(token)
            except ValidationError:
                return
            g.csrf_valid = True
            return


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


STRIPE_JS_ORIGIN = "https://js.stripe.com"


def embeds_stripe_js() -> None:
    """For a view whose page loads Stripe.js: its response's policy allows Stripe's origin
    (needed when the Stripe keys are saved in the back office rather than the environment)."""
    g.embeds_stripe_js = True


def content_security_policy(app: Flask, *, stripe: bool | None = None) -> str:
    script_src = ["'self'"]
    frame_src = ["'none'"]
    connect_src = ["'self'"]
    if stripe is None:
        stripe = bool(app.config.get("STRIPE_PUBLISHABLE_KEY"))
    if stripe and (stripe_origin := _origin(app.config.get("STRIPE_JS_URL"))):
        script_src.append(stripe_origin)
        frame_src = [stripe_origin]
        connect_src.append(stripe_origin)
        if stripe_origin == STRIPE_JS_ORIGIN:
            # Stripe.js calls Stripe's API from the page and shows 3-D Secure in a frame of
            # hooks.stripe.com (Stripe's security guide, "Content Security Policy").
            connect_src.append("https://api.stripe.com")
            frame_src.append("https://hooks.stripe.com")
    directives = {
        "default-src": ["'self'"],
        "script-src": script_src,
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": connect_src,
        "frame-src": frame_src,
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def init_app(app: Flask) -> None:
    app.before_request(_check_csrf)
    policy = content_security_policy(app)
    stripe_policy = content_security_policy(app, stripe=True)
    production = app.config["PRODUCTION"]

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy", stripe_policy if g.get("embeds_stripe_js") else policy
        )
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if production:
            headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        return response
