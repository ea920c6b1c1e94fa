"""Security defaults: CSRF on every POST, strict CSP and the usual response headers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_login import current_user
from flask_wtf.csrf import generate_csrf, validate_csrf
from itsdangerous import BadData, URLSafeTimedSerializer
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


# -- CSRF without a session, for the cart forms of cached pages ---------------------------
#
# A visitor with no session cookie who is not signed in gets, wherever a template asks for
# ``csrf_token()``, a *public* token instead of a session-bound one, so that the storefront's
# cached pages (every page has the HTMX header token, product pages an add-to-cart form)
# create no session and set no cookie. A public token is signed by the app (so a request
# without one, or with a forged one, is refused exactly as before) but bound to no visitor:
# anyone can fetch one, so it does not prove by itself that the request came from our page.
# What does: it is accepted only
#   * on the cart's own endpoints (``PUBLIC_TOKEN_BLUEPRINTS``): adding to, changing or
#     emptying a guest cart, the one thing a visitor with no session can do by POST;
#   * from a visitor who is not signed in (a signed-in one always has a session token);
#   * from a same-origin request: ``Sec-Fetch-Site`` (when sent) must be ``same-origin``,
#     ``Origin`` (every current browser sends it with a POST; ``null`` from sandboxed or
#     privacy-stripped contexts is refused) or else ``Referer`` must be this site. A request
#     with none of the three cannot come from a browser's cross-site form.
# Everything else (sign-in, checkout, the account, the back office) still needs the
# session-bound token, which those pages create when they render their form.

PUBLIC_TOKEN_PREFIX = "p."  # noqa: S105 (a marker, not a secret)
PUBLIC_TOKEN_SALT = "comptoir-public-csrf"  # noqa: S105 (a salt, not a secret)
PUBLIC_TOKEN_BLUEPRINTS = frozenset({"cart"})
PUBLIC_PAGE_BLUEPRINTS = frozenset({"storefront", "cart", None})
_PUBLIC_TOKEN_REFRESH = 3600  # seconds: one token per process and hour (valid for 8 h)


def _public_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=PUBLIC_TOKEN_SALT)


def public_token() -> str:
    """The session-less token (the same for every visitor during an hour: cached pages are
    compressed once per token, see ``shop.web.compression``)."""
    state = current_app.extensions.setdefault("comptoir_public_csrf", {"at": 0.0, "token": ""})
    now = time.time()
    if now - state["at"] > _PUBLIC_TOKEN_REFRESH:
        state["token"] = PUBLIC_TOKEN_PREFIX + _public_serializer().dumps("cart")
        state["at"] = now
    return state["token"]


def has_session_cookie() -> bool:
    return current_app.config["SESSION_COOKIE_NAME"] in request.cookies


def form_token() -> str:
    """``csrf_token()`` in templates: on the storefront's and the cart's pages (and pages of
    no blueprint: errors), the public token for a visitor who has no session and is not
    signed in (no session is made for it); everywhere else, and for everyone else, the
    session token. (Pages with a form of their own, sign-in or checkout, make the session
    anyway: their header token must be the session's for their HTMX posts.)"""
    if (
        request.blueprint not in PUBLIC_PAGE_BLUEPRINTS
        or has_session_cookie()
        or current_user.is_authenticated
        or _renders_own_form()
    ):
        return generate_csrf()
    return public_token()


def _renders_own_form() -> bool:
    """A page whose view checks a form of its own (``form_view``, e.g. the contact page):
    its form posts outside the cart, so its header token must be the session's too. The
    cart's own views check their forms too, but they accept the public token."""
    if request.blueprint in PUBLIC_TOKEN_BLUEPRINTS:
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, _FORM_VIEW_FLAG, False))


def _submitted_token() -> str | None:
    for name in current_app.config["WTF_CSRF_HEADERS"]:
        if token := request.headers.get(name):
            return token
    return request.form.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))


def _same_origin() -> bool:
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        return False
    ours = {request.host_url.rstrip("/"), _origin(current_app.config.get("PUBLIC_BASE_URL"))}
    if (origin := request.headers.get("Origin")) is not None:
        return origin in ours
    if referer := request.headers.get("Referer"):
        return _origin(referer) in ours
    return True


def _public_token_ok(token: str | None) -> bool:
    if not token or not token.startswith(PUBLIC_TOKEN_PREFIX):
        return False
    if request.blueprint not in PUBLIC_TOKEN_BLUEPRINTS or current_user.is_authenticated:
        return False
    if not _same_origin():
        return False
    try:
        _public_serializer().loads(
            token[len(PUBLIC_TOKEN_PREFIX) :],
            max_age=current_app.config["WTF_CSRF_TIME_LIMIT"],
        )
    except BadData:
        return False
    return True


def _check_csrf() -> None:
    if request.method not in UNSAFE_METHODS or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    if view is None:
        return
    form_checks_itself = getattr(view, _FORM_VIEW_FLAG, False)
    exempt = current_app.config.get("CSRF_EXEMPT_BLUEPRINTS", ())
    if not form_checks_itself and request.blueprint in exempt:
        return
    token = _submitted_token()
    if token and token.startswith(PUBLIC_TOKEN_PREFIX):
        if _public_token_ok(token):
            g.csrf_valid = True
            return
        if not form_checks_itself:
            csrf.protect()  # refused: 400
        return  # the view's own check refuses it (its token does not validate)
    if form_checks_itself:
        _accept_header_token()
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


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, minus ``Vary: Cookie`` where no cookie came or goes.

    Flask adds ``Vary: Cookie`` to every response that so much as looked at the session, and
    Flask-Login looks at it on every request. A request without the session cookie has an
    empty session, and when the response sets no cookie either its ``Vary: Cookie`` only
    stops caches: left out on private responses (the storefront's pages: nobody's shared
    cache keeps them). Static files (``g.session_free``) never depend on the session: no
    ``Vary: Cookie`` for them, whatever cookies come. A public response to a request
    without the cookie keeps it.
    """

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session.modified:
            if g.get("session_free"):
                return  # a static file, whoever asks for it
            no_cookie = self.get_cookie_name(app) not in request.cookies
            if not session and no_cookie and not response.cache_control.public:
                return
        super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
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
