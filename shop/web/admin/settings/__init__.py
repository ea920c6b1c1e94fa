"""Settings (admin only): store identity, tax rates, shipping methods, Stripe and SMTP."""

from shop.web.admin.settings import rates, store  # noqa: F401
