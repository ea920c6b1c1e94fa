"""Checkout pages: details (contact, addresses, shipping, payment), review, confirmation.

Works without JavaScript: each step is a form that posts and redirects. Details live in the
session between steps (never card data: cards go straight to Stripe).
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from shop.accounts.services import InvalidEmail, normalize_email
from shop.cart.models import CartStatus
from shop.checkout import addresses, shipping, taxes
from shop.checkout import services as checkout
from shop.checkout.services import CheckoutDetails, CheckoutError, ShippingOptions
from shop.extensions import limiter
from shop.i18n import localized_route
from shop.invoices import queries as invoice_queries
from shop.orders import services as orders
from shop.payments import stripe_gateway
from shop.platform.bank import bank_details
from shop.recovery import services as recovery
from shop.web.checkout import bp
from shop.web.forms import form_status
from shop.web.htmx import redirect_to, render
from shop.web.order_documents import documents_context
from shop.web.security import form_view

SESSION_KEY = "checkout"
ADDRESS_FIELDS = addresses.FIELD_NAMES


def _checkout_limit() -> str:
    return current_app.config.get("CHECKOUT_RATE_LIMIT", "30 per minute")


def current_cart_id() -> int | None:
    """The visitor's active cart, if it has items (a tampered cookie counts as no cart)."""
    from shop.cart import services as carts
    from shop.web.cart import cookie

    try:
        token, customer_id = cookie.visitor()
    except carts.CartTokenInvalid:
        return None
    cart = carts.find_cart(token=token, customer_id=customer_id)
    if cart is None or not cart.items:
        return None
    if cart.status == CartStatus.ABANDONED:  # the shopper is back: no more reminders
        carts.reactivate(cart.id)
    return cart.id


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    return response


class DetailsForm(FlaskForm):
    """CSRF only: the fields are read by the address rules, which know their own errors."""


def _address(prefix: str) -> dict[str, str]:
    return {name: request.form.get(f"{prefix}-{name}", "").strip() for name in ADDRESS_FIELDS}


def payment_methods() -> tuple[str, ...]:
    """What the checkout offers: card when Stripe is set up, bank transfer when the bank
    details are (never a transfer to blank details). Possibly neither: then no order."""
    offered = ("card",) if stripe_gateway.enabled() else ()
    return offered + (("bank_transfer",) if bank_details() is not None else ())


@localized_route(bp, {"fr": "/commande", "en": "/checkout"}, methods=["GET", "POST"])
@form_view
@limiter.limit(_checkout_limit, methods=["POST"])
def details() -> Response:
    lang = g.lang
    cart_id = current_cart_id()
    if cart_id is None:
        flash(_("Your basket is empty."), "info")
        return redirect(url_for("cart.view"))
    saved = session.get(SESSION_KEY, {})
    form = DetailsForm()
    errors: dict[str, str] = {}
    offered = payment_methods()
    values: dict[str, Any] = {
        "email": saved.get("email")
        or (current_user.email if current_user.is_authenticated else ""),
        "shipping": saved.get("shipping_address", {"country": "FR" if lang == "fr" else ""}),
        "billing": saved.get("billing_address", {}),
        "billing_same": saved.get("billing_same", True),
        "shipping_method": saved.get("shipping_method", ""),
        "payment_method": saved.get("payment_method", offered[0] if offered else ""),
        "recovery_consent": saved.get("recovery_consent", False),
    }
    status = 200
    if request.method == "GET":
        try:
            checkout.start_checkout(cart_id)
        except CheckoutError as error:
            flash(str(error.message), "error")
            return redirect(url_for("cart.view"))
    else:
        values = {
            "email": request.form.get("email", "").strip()[:254],
            "shipping": _address("shipping"),
            "billing": _address("billing"),
            "billing_same": request.form.get("billing_same") == "1",
            "shipping_method": request.form.get("shipping_method", ""),
            "payment_method": request.form.get("payment_method", ""),
            "recovery_consent": request.form.get("recovery_consent") == "1",
        }
    try:  # the summary, and the delivery methods offered for the address as it stands
        options = checkout.shipping_options(cart_id, values["shipping"].get("country", ""))
    except CheckoutError as error:  # an item was withdrawn since the cart was shown
        flash(str(error.message), "error")
        return redirect_to(url_for("cart.view"))
    if request.method == "POST":
        refresh_only = request.form.get("refresh") == "1"
        if not form.validate_on_submit():
            status = form_status(form)
        elif not refresh_only:
            errors = _validate(values, lang, offered, options)
            if "email" not in errors:  # kept on the cart: an abandoned checkout gets a reminder
                recovery.remember_contact(
                    cart_id, values["email"], consent=values["recovery_consent"]
                )
            if errors:
                status = 422
            else:
                session[SESSION_KEY] = {
                    "email": values["email"],
                    "shipping_address": values["shipping_clean"],
                    "billing_address": values["billing_clean"],
                    "billing_same": values["billing_same"],
                    "shipping_method": values["shipping_method"],
                    "payment_method": values["payment_method"],
                    "recovery_consent": values["recovery_consent"],
                }
                checkout.keep_alive(cart_id)
                return redirect_to(url_for("checkout.review"))
    response = render(
        "checkout/details.html",
        "checkout/_details_form.html",
        status=status,
        form=form,
        values=values,
        errors=errors,
        lines=options.lines,
        subtotal=options.subtotal,
        countries=addresses.country_choices(lang),
        provinces=addresses.province_choices(lang),
        methods=options.methods,
        card_enabled="card" in offered,
        transfer_enabled="bank_transfer" in offered,
    )
    return _no_store(response)


def _validate(
    values: dict[str, Any], lang: str, offered: tuple[str, ...], options: ShippingOptions
) -> dict[str, str]:
    """Field name → translated message; fills the normalized addresses into ``values``."""
    errors: dict[str, str] = {}
    email = values["email"]
    try:
        values["email"] = normalize_email(email)
    except InvalidEmail as error:
        errors["email"] = str(error.message)
    ship, ship_errors = addresses.validate_address(values["shipping"], lang)
    errors.update({f"shipping-{k}": v for k, v in ship_errors.items()})
    if values["billing_same"]:
        bill, bill_errors = ship, {}
    else:
        bill, bill_errors = addresses.validate_address(values["billing"], lang)
    errors.update({f"billing-{k}": v for k, v in bill_errors.items()})
    if not ship_errors:
        values["shipping_clean"] = ship.as_dict()
        values["billing_clean"] = bill.as_dict() if not bill_errors else {}
        if not options.offers(values["shipping_method"]):
            errors["shipping_method"] = _("Please choose a delivery method.")
    if values["payment_method"] not in offered:
        errors["payment_method"] = _("Please choose a payment method.")
    return errors


@localized_route(
    bp, {"fr": "/commande/recapitulatif", "en": "/checkout/review"}, methods=["GET", "POST"]
)
@form_view
@limiter.limit(_checkout_limit, methods=["POST"])
def review() -> Response:
    lang = g.lang
    cart_id = current_cart_id()
    saved = session.get(SESSION_KEY)
    if cart_id is None or not saved:
        return redirect(url_for("checkout.details"))
    if saved.get("payment_method") not in payment_methods():  # switched off since
        session[SESSION_KEY] = {k: v for k, v in saved.items() if k != "payment_method"}
        flash(_("This payment method is no longer available. Please choose another one."), "error")
        return redirect(url_for("checkout.details"))
    form = DetailsForm()
    details = CheckoutDetails(
        email=saved["email"],
        shipping_address=saved["shipping_address"],
        billing_address=saved["billing_address"],
        shipping_method=saved["shipping_method"],
        payment_method=saved["payment_method"],
        locale=lang,
        customer_id=current_user.id if current_user.is_authenticated else None,
    )
    status = 200
    problem = None
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                order = checkout.place_order(cart_id, details)
            except CheckoutError as error:
                problem = error.message
                status = 409
            else:
                session.pop(SESSION_KEY, None)
                token = orders.access_token(order)
                if order.payment_method == "card":
                    return redirect_to(url_for("payments.pay", token=token))
                return redirect_to(url_for("checkout.confirmation", token=token))
        else:
            status = form_status(form)
    try:
        quote = checkout.quote_cart(
            cart_id,
            country=details.shipping_address["country"],
            region=details.shipping_address.get("region", ""),
            shipping_code=details.shipping_method,
        )
    except CheckoutError as error:
        flash(str(error.message), "error")
        return redirect(url_for("cart.view"))
    except (shipping.ShippingUnavailable, taxes.TaxError) as error:
        flash(str(error.message), "error")
        return redirect(url_for("checkout.details"))
    response = render(
        "checkout/review.html",
        status=status,
        form=form,
        quote=quote,
        details=details,
        problem=problem,
    )
    return _no_store(response)


@localized_route(
    bp, {"fr": "/commande/confirmation/<token>", "en": "/checkout/confirmation/<token>"}
)
def confirmation(token: str) -> Response:
    order = orders.order_for_token(token)
    if order is None:
        abort(404)
    documents = documents_context(
        order,
        invoice_queries.documents_of(order.id),
        lambda document: url_for("invoices.download", token=token, invoice_id=document.id),
        url_for("checkout.confirmation", token=token),
    )
    response = render(
        "checkout/confirmation.html",
        "orders/_documents.html",
        order=order,
        token=token,
        **documents,
        bank=bank_details(),
    )
    return _no_store(response)
