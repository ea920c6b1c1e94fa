"""The components page: every piece of the storefront's design system, as shoppers see it, in
the staff member's language (a reference for whoever changes a template or shop.css)."""

from __future__ import annotations

from werkzeug.wrappers import Response

from shop.accounts.permissions import Permission
from shop.web.admin import admin_route
from shop.web.htmx import render

#: The colour tokens of static/css/shop.css, with the contrast each is meant to keep.
SWATCHES = (
    ("ink", "--ink", "15.6:1"),
    ("muted", "--muted", "6.1:1"),
    ("paper", "--paper", ""),
    ("card", "--card", ""),
    ("surface", "--surface", ""),
    ("line", "--line", ""),
    ("control-line", "--control-line", "3.7:1"),
    ("accent", "--accent", "8.6:1"),
    ("accent-soft", "--accent-soft", ""),
    ("danger", "--danger", "7.4:1"),
    ("ok", "--ok", "6.5:1"),
    ("info", "--info", "6.1:1"),
)
TYPE_SCALE = (
    ("2xl", "--text-2xl"),
    ("xl", "--text-xl"),
    ("lg", "--text-lg"),
    ("md", "--text-md"),
    ("base", "--text-base"),
    ("sm", "--text-sm"),
    ("xs", "--text-xs"),
)


@admin_route("/design", Permission.DASHBOARD)
def design() -> Response:
    """Read-only: nothing on the page is sent anywhere."""
    return render("admin/design.html", swatches=SWATCHES, type_scale=TYPE_SCALE)
