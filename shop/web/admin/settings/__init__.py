"""Settings (admin only): store identity, tax rates, shipping methods, Stripe and SMTP,
bank details for transfers, abandoned-cart reminders, the home page's hero."""

from shop.web.admin.settings import checkout_options, home, rates, store  # noqa: F401
