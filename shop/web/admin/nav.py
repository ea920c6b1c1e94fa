"""The back-office menu: shown entries are those whose page exists and is allowed."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

from shop.accounts.permissions import Permission
from shop.web.admin import can

MENU = (
    ("admin.dashboard", _l("Dashboard"), Permission.DASHBOARD),
    ("admin.orders", _l("Orders"), Permission.ORDERS_READ),
    ("admin.products", _l("Products"), Permission.CATALOGUE_READ),
    ("admin.categories", _l("Categories"), Permission.CATALOGUE_READ),
    ("admin.tags", _l("Tags"), Permission.CATALOGUE_READ),
    ("admin.stock", _l("Stock"), Permission.STOCK_READ),
    ("admin.customers", _l("Customers"), Permission.CUSTOMERS_READ),
    ("admin.carts", _l("Abandoned carts"), Permission.CARTS_READ),
    ("admin.kpis", _l("Statistics"), Permission.KPIS),
    ("admin.outbox", _l("Failed events"), Permission.OUTBOX),
    ("admin.audit", _l("Audit log"), Permission.AUDIT_READ),
    ("admin.staff", _l("Staff"), Permission.STAFF),
    ("admin.settings", _l("Settings"), Permission.SETTINGS),
    ("admin.design", _l("Components"), Permission.DASHBOARD),
)


def menu() -> list[tuple[str, str]]:
    views = current_app.view_functions
    return [
        (endpoint, str(label))
        for endpoint, label, permission in MENU
        if endpoint in views and can(permission)
    ]


ROLE_LABELS = {
    "customer": _l("customer"),
    "support": _l("support"),
    "manager": _l("manager"),
    "admin": _l("administrator"),
}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))
