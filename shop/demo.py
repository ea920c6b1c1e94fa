"""The demo shop: deterministic data for ``make run`` and demos (later issues grow it)."""

from __future__ import annotations

from shop.accounts import services as accounts
from shop.accounts.models import Role

DEMO_ACCOUNTS = (
    ("admin@demo.example.com", Role.ADMIN, "fr"),
    ("manager@demo.example.com", Role.MANAGER, "fr"),
    ("support@demo.example.com", Role.SUPPORT, "en"),
    ("client@demo.example.com", Role.CUSTOMER, "fr"),
    ("customer@demo.example.com", Role.CUSTOMER, "en"),
)


def load(*, password: str) -> list[str]:
    lines = []
    for email, role, locale in DEMO_ACCOUNTS:
        if accounts.find_by_email(email) is None:
            accounts.register(email, password, locale=locale, role=role)
            lines.append(f"{role:<8} {email} / {password}")
    return lines
