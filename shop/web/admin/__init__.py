"""The staff back office under ``/admin``, in the staff member's language.

Every route is declared with :func:`admin_route` and names the permission it needs; the
blueprint's guard checks login, staff role, the permission and (for admin and manager)
TOTP two-factor authentication before any view runs. A route without a declared
permission is refused, so nothing is reachable by accident.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from shop.accounts.permissions import TWO_FACTOR_ROLES, allows
from shop.accounts.two_factor import session_marker
from shop.web.htmx import redirect_to

bp = Blueprint("admin", __name__, url_prefix="/admin")

#: endpoint -> permission (None: any staff member, e.g. the two-factor pages)
ROUTE_PERMISSIONS: dict[str, str | None] = {}
#: endpoints reachable before two-factor authentication is passed (enrolment, verification)
BEFORE_TWO_FACTOR: set[str] = set()
TWO_FACTOR_SESSION_KEY = "admin_2fa"

V = TypeVar("V", bound=Callable[..., Any])


def admin_route(
    rule: str,
    permission: str | None,
    *,
    methods: tuple[str, ...] = ("GET",),
    endpoint: str | None = None,
    before_two_factor: bool = False,
) -> Callable[[V], V]:
    """Register ``view`` on the admin blueprint, guarded by ``permission``."""

    def decorator(view: V) -> V:
        name = endpoint or view.__name__
        ROUTE_PERMISSIONS[f"admin.{name}"] = permission
        if before_two_factor:
            BEFORE_TWO_FACTOR.add(f"admin.{name}")
        bp.add_url_rule(rule, name, view, methods=list(methods))
        return view

    return decorator


def two_factor_passed() -> bool:
    return session.get(TWO_FACTOR_SESSION_KEY) == session_marker(current_user)


def mark_two_factor_passed() -> None:
    session[TWO_FACTOR_SESSION_KEY] = session_marker(current_user)


def needs_two_factor() -> bool:
    """Admin and manager always; support staff once they have chosen to enrol."""
    required = current_user.role in TWO_FACTOR_ROLES or current_user.two_factor_enabled
    return required and not two_factor_passed()


def can(permission: str | None) -> bool:
    """For templates and views: may the current staff member do this?"""
    if not current_user.is_authenticated or not current_user.is_staff:
        return False
    return permission is None or allows(current_user.role, permission)


@bp.before_request
def guard() -> Response | None:
    if not current_user.is_authenticated:
        return redirect_to(url_for("account.login", next=request.full_path.rstrip("?")))
    if not current_user.is_staff:
        abort(403)
    endpoint = request.endpoint or ""
    if endpoint not in ROUTE_PERMISSIONS:
        abort(403)
    if not can(ROUTE_PERMISSIONS[endpoint]):
        abort(403)
    if endpoint not in BEFORE_TWO_FACTOR and needs_two_factor():
        return redirect_to(url_for("admin.two_factor", next=request.full_path.rstrip("?")))
    return None


@bp.after_request
def private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.context_processor
def admin_helpers() -> dict[str, Any]:
    from shop.web.admin.nav import menu, role_label

    return {"admin_menu": menu, "role_label": role_label, "can": can}


from shop.web.admin import views  # noqa: E402, F401
