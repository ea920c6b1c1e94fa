"""The cart page and its actions (add, change a quantity, remove), with and without HTMX.

Each action is a plain form; with HTMX it returns the part of the page it changed plus the
header badge as an out-of-band swap. Refusals show the error next to the line or the add
button, keep what was typed, and answer 400 (unreadable input, stale CSRF token, forged
cookie), 404 (no such item) or 422 (a quantity rule).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import flash, g, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response
from wtforms.validators import ValidationError

from shop.cart import services
from shop.cart.models import Cart
from shop.cart.services import (
    CartError,
    CartNotFound,
    CartSummary,
    CartTokenInvalid,
    ItemNotFound,
    NotEnoughStock,
    QuantityInvalid,
    TooManyForOneLine,
    VariantUnavailable,
)
from shop.config import LOCALES
from shop.extensions import db
from shop.i18n import localized_route
from shop.web.cart import bp, cookie
from shop.web.forms import CSRF_FORM_MESSAGE, safe_next
from shop.web.htmx import redirect_to, wants_fragment
from shop.web.security import form_view

MAX_ID = 2**31 - 1  # PostgreSQL integer: larger ids cannot exist
_QUANTITY = re.compile(r"[0-9]{1,4}")
_ID = re.compile(r"[0-9]{1,9}")

BAD_QUANTITY = _l("Please enter a whole number, such as 1 or 2.")
BAD_VARIANT = _l("Sorry, this item is not available.")

STATUS: dict[type[CartError], int] = {
    QuantityInvalid: 422,
    NotEnoughStock: 422,
    TooManyForOneLine: 422,
    VariantUnavailable: 404,
    ItemNotFound: 404,
    CartNotFound: 404,
    CartTokenInvalid: 400,
}


def _status(error: CartError) -> int:
    return next((code for kind, code in STATUS.items() if isinstance(error, kind)), 422)


def _parse(pattern: re.Pattern[str], typed: str) -> int | None:
    typed = typed.strip()
    return int(typed) if pattern.fullmatch(typed) else None


def _csrf_ok() -> bool:
    """The header token (HTMX, checked before the view) or the form's own."""
    if g.get("csrf_valid"):
        return True
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return False
    return True


# -- the header badge ---------------------------------------------------------------------


@bp.app_template_global()
def cart_badge_count() -> int:
    """Units in the visitor's cart: no query for an anonymous visitor without a cart cookie,
    one small one otherwise. Views that just read the cart set ``g.cart_count`` first."""
    if "cart_count" not in g:
        try:
            token, customer_id = cookie.visitor()
            g.cart_count = services.item_count(token=token, customer_id=customer_id)
        except CartTokenInvalid:
            g.cart_count = 0
        except SQLAlchemyError:  # error pages render the header too
            db.session.rollback()
            g.cart_count = 0
    return g.cart_count


@bp.app_template_global()
def cart_line_limit() -> int:
    return services.max_per_line()


def _respond(page: str, fragment: str, *, status: int, badge: bool, **context: Any) -> Response:
    """The page, or for HTMX the fragment (plus the badge, out of band, after a change)."""
    if wants_fragment():
        if badge:
            html = render_template("cart/_with_badge.html", fragment=fragment, **context)
        else:
            html = render_template(fragment, **context)
        response = make_response(html, status)
    else:
        response = make_response(render_template(page, **context), status)
    response.vary.add("HX-Request")
    response.headers["Cache-Control"] = "private, no-store"
    return response


# -- the cart ----------------------------------------------------------------------------


@dataclass
class LineError:
    item_id: int
    typed: str | None  # None: keep showing the line's quantity
    message: Any


def _show_cart(
    cart_id: int | None,
    *,
    status: int = 200,
    message: Any = None,
    line_error: LineError | None = None,
    badge: bool = True,
) -> Response:
    """The cart as it is now. Showing it is how the shopper sees changed prices: the notice
    is shown this once and today's prices become the lines' snapshots."""
    g.alternates = {code: url_for("cart.view", lang=code) for code in LOCALES}
    summary = (
        services.summary(cart_id, g.lang)
        if cart_id
        else CartSummary(lines=[], quantity=0, subtotal=0, has_price_changes=False)
    )
    if cart_id and summary.has_price_changes:
        services.accept_current_prices(cart_id)
    if line_error and line_error.item_id not in {line.item_id for line in summary.lines}:
        message, line_error = line_error.message, None  # the line is gone: say it on top
    g.cart_count = summary.quantity
    return _respond(
        "cart/page.html",
        "cart/_cart.html",
        status=status,
        badge=badge,
        summary=summary,
        message=message,
        line_error=line_error,
    )


def _refused_cookie(error: CartTokenInvalid) -> Response:
    """A forged cookie names no cart: say so, and drop it so the next try starts afresh."""
    response = _show_cart(None, status=400, message=error.message)
    return cookie.forget(response)


def _current_cart() -> Cart | None:
    token, customer_id = cookie.visitor()
    return services.find_cart(token=token, customer_id=customer_id)


@localized_route(bp, {"fr": "/panier", "en": "/cart"})
def view() -> Response:
    try:
        cart = _current_cart()
    except CartTokenInvalid as error:
        return _refused_cookie(error)
    return _show_cart(cart.id if cart else None, badge=False)


def _changed(cart_id: int, cart_token: str | None) -> Response:
    response = _show_cart(cart_id) if wants_fragment() else redirect_to(url_for("cart.view"))
    cookie.remember(response, cart_token)
    return response


@localized_route(
    bp,
    {
        "fr": f"/panier/lignes/<int(max={MAX_ID}):item_id>",
        "en": f"/cart/lines/<int(max={MAX_ID}):item_id>",
    },
    methods=["POST"],
)
@form_view
def update(item_id: int) -> Response:
    typed = request.form.get("quantity", "")[:20]
    try:
        cart = _current_cart()
    except CartTokenInvalid as error:
        return _refused_cookie(error)
    cart_id = cart.id if cart else None
    if not _csrf_ok():
        return _line_refused(cart_id, LineError(item_id, typed, CSRF_FORM_MESSAGE), 400)
    quantity = _parse(_QUANTITY, typed)
    if quantity is None:
        return _line_refused(cart_id, LineError(item_id, typed, BAD_QUANTITY), 400)
    try:
        if cart is None:
            raise ItemNotFound()
        cart_token = cookie.guest_token_of(cart)
        services.set_quantity(cart.id, item_id, quantity, locale=g.lang)
    except CartError as error:
        return _line_refused(cart_id, LineError(item_id, typed, error.message), _status(error))
    return _changed(cart.id, cart_token)


@localized_route(
    bp,
    {
        "fr": f"/panier/lignes/<int(max={MAX_ID}):item_id>/supprimer",
        "en": f"/cart/lines/<int(max={MAX_ID}):item_id>/remove",
    },
    methods=["POST"],
)
@form_view
def remove(item_id: int) -> Response:
    try:
        cart = _current_cart()
    except CartTokenInvalid as error:
        return _refused_cookie(error)
    cart_id = cart.id if cart else None
    if not _csrf_ok():
        return _line_refused(cart_id, LineError(item_id, None, CSRF_FORM_MESSAGE), 400)
    try:
        if cart is None:
            raise ItemNotFound()
        cart_token = cookie.guest_token_of(cart)
        services.remove_item(cart.id, item_id, locale=g.lang)
    except CartError as error:
        return _line_refused(cart_id, LineError(item_id, None, error.message), _status(error))
    return _changed(cart.id, cart_token)


def _line_refused(cart_id: int | None, error: LineError, status: int) -> Response:
    """The cart again, with the error next to its line and what was typed kept."""
    return _show_cart(cart_id, status=status, line_error=error, badge=False)


# -- adding from a product page -------------------------------------------------------------


@dataclass
class AddForm:
    """An add-to-cart form as the shopper sent it (kept as typed, to show it back)."""

    variant_id: str
    quantity: str = "1"
    next: str = ""
    error: Any = None
    added: bool = False

    @classmethod
    def from_request(cls) -> AddForm:
        form = request.form
        return cls(
            variant_id=form.get("variant_id", "")[:20],
            quantity=form.get("quantity", "1")[:20],
            next=form.get("next", "")[:500],
        )


@localized_route(bp, {"fr": "/panier/ajouter", "en": "/cart/add"}, methods=["POST"])
@form_view
def add() -> Response:
    form = AddForm.from_request()
    if not _csrf_ok():
        return _add_refused(form, CSRF_FORM_MESSAGE, 400)
    variant_id = _parse(_ID, form.variant_id)
    if variant_id is None:
        return _add_refused(form, BAD_VARIANT, 400)
    quantity = _parse(_QUANTITY, form.quantity)
    if quantity is None:
        return _add_refused(form, BAD_QUANTITY, 400)
    try:
        token, customer_id = cookie.visitor()
    except CartTokenInvalid as error:
        return cookie.forget(_add_refused(form, error.message, 400))
    try:
        added = services.add_to_cart(
            token=token,
            customer_id=customer_id,
            variant_id=variant_id,
            quantity=quantity,
            locale=g.lang,
            email=current_user.email if current_user.is_authenticated else None,
        )
    except CartError as error:
        return _add_refused(form, error.message, _status(error))
    cart_token = added.guest_token
    if wants_fragment():
        g.cart_count = added.units
        done = AddForm(variant_id=form.variant_id, next=form.next, added=True)
        response = _respond(
            "cart/add.html", "cart/_add_form.html", status=200, badge=True, add=done
        )
    else:
        flash(_("Added to your cart."), "success")
        response = redirect_to(url_for("cart.view"))
    cookie.remember(response, cart_token)
    return response


def _add_refused(form: AddForm, message: Any, status: int) -> Response:
    form.error = message
    g.alternates = {code: url_for("storefront.home", lang=code) for code in LOCALES}
    return _respond(
        "cart/add.html",
        "cart/_add_form.html",
        status=status,
        badge=False,
        add=form,
        back=safe_next(form.next, url_for("storefront.home")),
    )
