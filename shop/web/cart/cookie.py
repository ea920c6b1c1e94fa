"""Whose cart: a customer's by their id, a guest's by the token signed into the ``cart`` cookie."""

from __future__ import annotations

from flask import after_this_request, current_app, request
from flask_login import current_user
from werkzeug.wrappers import Response

from shop.cart import services
from shop.cart.models import Cart
from shop.cart.services import CartTokenInvalid

COOKIE_NAME = "cart"
MAX_AGE = 30 * 24 * 3600


def visitor() -> tuple[str | None, int | None]:
    """(guest token, customer id), as the cart services take them.

    A customer's cart is found by id alone, whatever cookie they carry. Raises
    ``CartTokenInvalid`` when a guest's cookie was tampered with.
    """
    if current_user.is_authenticated:
        return None, current_user.id
    raw = request.cookies.get(COOKIE_NAME)
    return (services.read_signed_token(raw) if raw else None), None


def remember(response: Response, cart_token: str | None) -> None:
    """Give a guest (back) their cart cookie, for another 30 days."""
    if cart_token is None:
        return
    response.set_cookie(
        COOKIE_NAME,
        services.sign_token(cart_token),
        max_age=MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )


def forget(response: Response) -> Response:
    response.delete_cookie(
        COOKIE_NAME,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response


def guest_token_of(cart: Cart) -> str | None:
    """The token to put in the cookie: guests only (customers need none)."""
    return cart.token if cart.customer_id is None else None


def merge_guest_cart(customer_id: int) -> None:
    """Right after login: the guest's cart joins the customer's, and the cookie goes.

    A cookie that does not verify is dropped the same way: it can name nobody's cart.
    """
    raw = request.cookies.get(COOKIE_NAME)
    if not raw:
        return
    try:
        token: str | None = services.read_signed_token(raw)
    except CartTokenInvalid:
        token = None
    if token:
        services.merge_on_login(token, customer_id)
    after_this_request(forget)
