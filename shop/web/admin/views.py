"""Back-office home and the staff member's language."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from shop.accounts import services as accounts
from shop.accounts.permissions import Permission
from shop.config import LOCALES
from shop.reports import dashboard as dashboard_counts
from shop.reports.kpis import today_in
from shop.web.admin import admin_route, can
from shop.web.admin.auditing import audited
from shop.web.htmx import redirect_to, render


@admin_route("/", Permission.DASHBOARD)
def dashboard() -> Response:
    """What needs doing now, limited to what the staff member's role may see."""
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    counts = dashboard_counts.counts(
        orders=can(Permission.ORDERS_READ),
        stock=can(Permission.STOCK_READ),
        outbox=can(Permission.OUTBOX),
        revenue=can(Permission.KPIS),
        zone=zone,
    )
    return render(
        "admin/dashboard.html",
        counts=counts,
        today=today_in(zone).isoformat(),
        has_page=lambda endpoint: endpoint in current_app.view_functions,
    )


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


# Each area's views register their routes on import.
from shop.web.admin import (  # noqa: E402, F401
    audit_log,
    carts,
    catalogue,
    customers,
    design,
    kpis,
    orders,
    outbox,
    settings,
    staff,
    stock,
    two_factor,
)
