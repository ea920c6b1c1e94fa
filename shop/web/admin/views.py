"""Back-office home and the staff member's language."""

from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from shop.accounts import services as accounts
from shop.accounts.permissions import Permission
from shop.config import LOCALES
from shop.web.admin import admin_route
from shop.web.admin.auditing import audited
from shop.web.htmx import redirect_to, render


@admin_route("/", Permission.DASHBOARD)
def dashboard() -> Response:
    return render("admin/dashboard.html")


@admin_route("/language", Permission.DASHBOARD, methods=("POST",), before_two_factor=True)
def language() -> Response:
    """Staff work in their own language: the choice is stored on their account."""
    locale = request.form.get("locale", "")
    back = request.form.get("next", "")
    if not back.startswith("/admin"):
        back = url_for("admin.dashboard")
    if locale not in LOCALES:
        flash(_("Unknown language."), "error")
        return redirect_to(back)
    if locale != current_user.locale:
        with audited(
            "staff.locale",
            "user",
            current_user.id,
            before={"locale": current_user.locale},
            after={"locale": locale},
        ):
            accounts.set_locale(current_user.id, locale)
    return redirect_to(back)


from shop.web.admin import catalogue_products  # noqa: E402, F401
from shop.web.admin import catalogue_variants  # noqa: E402, F401
from shop.web.admin import catalogue_taxonomy  # noqa: E402, F401
from shop.web.admin import audit_log, outbox, staff, two_factor  # noqa: E402, F401
from shop.web.admin import settings  # noqa: E402, F401
from shop.web.admin import customers  # noqa: E402, F401
from shop.web.admin import kpis  # noqa: E402, F401
from shop.web.admin import carts  # noqa: E402, F401
from shop.web.admin import orders, stock  # noqa: E402, F401
