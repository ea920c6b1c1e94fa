"""Settings (admin only): store identity, tax rates, shipping methods, Stripe and SMTP,
bank details for transfers, abandoned-cart reminders."""

from shop.web.admin.settings import checkout_options, rates, store  # noqa: F401
