"""Helpers for back-office tests: staff members logged in (two-factor passed when their role
needs it) and one sample of every entity an admin URL can name."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, Auth
from tests.outbox_support import deliver_outbox

ROLES = ("customer", "support", "manager", "admin")


def make_staff(app: Flask, role: str, email: str | None = None) -> int:
    from shop.accounts import services as accounts

    with app.app_context():
        user = accounts.register(email or f"{role}@example.com", PASSWORD, locale="fr", role=role)
        return user.id


def pass_two_factor(client: FlaskClient, app: Flask, user_id: int) -> None:
    """Mark the session as having passed TOTP (for tests about something else than 2FA).

    tests/test_admin_two_factor.py drives the real enrolment and verification pages.
    """
    from shop.accounts.models import User
    from shop.accounts.two_factor import session_marker
    from shop.extensions import db
    from shop.web.admin import TWO_FACTOR_SESSION_KEY

    with app.app_context():
        marker = session_marker(db.session.get(User, user_id))
    with client.session_transaction() as session:
        session[TWO_FACTOR_SESSION_KEY] = marker


def login_staff(client: FlaskClient, app: Flask, role: str, email: str | None = None) -> int:
    """A ``role`` user, logged in on ``client`` with two-factor passed; returns the user id."""
    user_id = make_staff(app, role, email)
    response = Auth(client).login(email or f"{role}@example.com")
    assert response.status_code in (302, 303), response.status_code
    pass_two_factor(client, app, user_id)
    return user_id


def admin_csrf(client: FlaskClient) -> str:
    from tests.conftest import csrf_token

    return csrf_token(client, "/admin/")


# -- one of everything an admin URL names -------------------------------------------------
# Each area that adds a route with a URL argument adds the way to make a sample here, keyed
# by the argument's name; the role-matrix test fails on an argument it cannot fill.


def sample_url_values(app: Flask) -> dict[str, Any]:
    values: dict[str, Any] = {}
    with app.app_context():
        from shop.accounts import services as accounts

        customer = accounts.register("sample.customer@example.com", PASSWORD, locale="fr")
        values["user_id"] = customer.id
        values["customer_id"] = customer.id
        values["cart_id"] = _cart_sample()
        values.update(_catalogue_samples())
        values.update(_settings_samples())
        values.update(_outbox_samples())
        values.update(_order_samples())
    # Every event handled now (the users' welcome mails, the sample order's events), waiting
    # for those a worker holds: none may add a mail or an invoice while a test compares tables.
    deliver_outbox(app)
    return values


def _catalogue_samples() -> dict[str, int]:
    """A draft product in a category, with a tag, a variant and an image row (admin.products_*,
    admin.categories_*, admin.tags_*)."""
    from shop.catalogue.models import ProductImage
    from shop.catalogue.services import Text, VariantInput
    from shop.extensions import db
    from tests import catalogue_factory

    category = catalogue_factory.category("Échantillons", "Samples")
    tag = catalogue_factory.tag("Échantillon", "Sample")
    product = catalogue_factory.product(
        {"fr": Text("Produit témoin"), "en": Text("Sample product")},
        variants=[VariantInput(sku="SAMPLE-1", price=1250)],
        category_id=category.id,
        tag_ids=(tag.id,),
    )
    variant = product.variants[0]
    # An image row without its file (the admin pages need the row, not the picture).
    image = ProductImage(
        product_id=product.id, path="products/sample.jpg", sha256="0" * 64, width=800, height=600
    )
    db.session.add(image)
    db.session.commit()
    return {
        "product_id": product.id,
        "variant_id": variant.id,
        "image_id": image.id,
        "category_id": category.id,
        "tag_id": tag.id,
    }


def _outbox_samples() -> dict[str, int]:
    """A dead outbox event (of a type no handler knows: a retry only marks it done) and an
    email the worker gave up on."""
    from shop.emails.models import EmailMessage, EmailStatus
    from shop.extensions import db
    from shop.outbox.models import OutboxEvent, OutboxStatus

    event = OutboxEvent(type="sample", payload={}, status=OutboxStatus.DEAD, attempts=8)
    email = EmailMessage(
        kind="welcome",
        to_address="sample.customer@example.com",
        locale="fr",
        subject="Bienvenue",
        text_body="Bienvenue",
        html_body="<p>Bienvenue</p>",
        message_id="<sample@comptoir.example.com>",
        status=EmailStatus.FAILED,
        attempts=8,
    )
    db.session.add_all([event, email])
    db.session.commit()
    return {"event_id": event.id, "email_id": email.id}


def _settings_samples() -> dict[str, int]:
    """A tax rate and a delivery method (admin.settings_tax_*, admin.settings_shipping_*)."""
    from shop.checkout import settings

    rate = settings.create_tax_rate(
        settings.TaxRateData("FR", "", "standard", "TVA 20\u202f%", "VAT 20%", 200_000)
    )
    method = settings.create_shipping_method(
        settings.ShippingMethodData("sample", "flat", "Colis", "Parcel", 690, None, ["FR"])
    )
    return {"tax_rate_id": rate.id, "shipping_method_id": method.id}


def _cart_sample() -> int:
    """An abandoned guest cart (admin.carts_*); no consent, so "send now" is refused."""
    from shop.cart.models import Cart, CartStatus
    from shop.extensions import db

    cart = Cart(token="sample-cart", email="sample.cart@example.com", status=CartStatus.ABANDONED)
    db.session.add(cart)
    db.session.commit()
    return cart.id


def _order_samples() -> dict[str, int]:
    """An order awaiting a bank transfer and a paid one with its invoice (admin.orders_*; the
    stock pages use the catalogue's sample variant). The paid one is set paid directly:
    ``mark_paid`` would emit ``order_paid``, and a worker left running by an earlier test
    would then change the outbox tables while a test compares them."""
    from shop.clock import utcnow
    from shop.extensions import db
    from shop.invoices import services as invoices
    from shop.orders.models import Order, OrderStatus
    from tests.test_payments import place_pending_order

    pending = place_pending_order(payment_method="bank_transfer")
    paid = place_pending_order(payment_method="bank_transfer")
    order = db.session.get(Order, paid)
    order.status, order.paid_at = OrderStatus.PAID, utcnow()
    db.session.commit()
    invoice = invoices.issue_invoice(paid)
    return {"order_id": pending, "invoice_id": invoice.id}
