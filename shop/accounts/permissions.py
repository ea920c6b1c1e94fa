"""The staff role matrix: what each role may do in the back office.

Every admin route names one permission (``shop.web.admin.admin_route``); the server checks
it on every request, and ``tests/test_admin_access.py`` walks every route for every role.
"""

from __future__ import annotations

from shop.accounts.models import Role


class Permission:
    DASHBOARD = "dashboard"
    CATALOGUE_READ = "catalogue.read"
    CATALOGUE_WRITE = "catalogue.write"
    STOCK_READ = "stock.read"
    STOCK_WRITE = "stock.write"
    ORDERS_READ = "orders.read"
    ORDERS_WRITE = "orders.write"  # fulfil, mark a transfer paid, cancel
    REFUNDS = "refunds"
    EMAILS_RESEND = "emails.resend"
    OUTBOX = "outbox"  # see and retry DEAD outbox events
    CUSTOMERS_READ = "customers.read"
    CUSTOMERS_WRITE = "customers.write"  # GDPR export and anonymization
    CARTS_READ = "carts.read"
    CARTS_WRITE = "carts.write"  # send a recovery email now
    KPIS = "kpis"
    SETTINGS = "settings"
    AUDIT_READ = "audit.read"
    STAFF = "staff"  # grant and revoke staff roles


_SUPPORT = frozenset(
    {
        Permission.DASHBOARD,
        Permission.ORDERS_READ,
        Permission.CUSTOMERS_READ,
        Permission.EMAILS_RESEND,
    }
)
_MANAGER = _SUPPORT | {
    Permission.CATALOGUE_READ,
    Permission.CATALOGUE_WRITE,
    Permission.STOCK_READ,
    Permission.STOCK_WRITE,
    Permission.ORDERS_WRITE,
    Permission.REFUNDS,
    Permission.OUTBOX,
    Permission.CUSTOMERS_WRITE,
    Permission.CARTS_READ,
    Permission.CARTS_WRITE,
    Permission.KPIS,
}
_ADMIN = _MANAGER | {Permission.SETTINGS, Permission.AUDIT_READ, Permission.STAFF}

MATRIX: dict[str, frozenset[str]] = {
    Role.CUSTOMER: frozenset(),
    Role.SUPPORT: _SUPPORT,
    Role.MANAGER: frozenset(_MANAGER),
    Role.ADMIN: frozenset(_ADMIN),
}

#: Roles that must pass TOTP two-factor authentication before any admin page.
TWO_FACTOR_ROLES = frozenset({Role.ADMIN, Role.MANAGER})


def allows(role: str, permission: str) -> bool:
    return permission in MATRIX.get(role, frozenset())
