"""The "recover my cart" link of a reminder email, and the checkout's "remind me" box.

The link is a GET (it is clicked in a mail): it reopens the cart, puts it in the visitor's
cookie (or their account's cart) and redirects to the cart page, where changed prices are
announced as usual. A link we cannot use answers a translated 4xx page and changes nothing.
"""

from __future__ import annotations

from flask import flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from shop.cart.services import CartTokenInvalid
from shop.config import LOCALES
from shop.i18n import localized_route
from shop.recovery import links, policy
from shop.web.cart import bp, cookie


@localized_route(bp, {"fr": "/panier/recuperer", "en": "/cart/recover"})
def recover() -> Response:
    customer_id = current_user.id if current_user.is_authenticated else None
    try:
        guest_token = cookie.visitor()[0]
    except CartTokenInvalid:
        guest_token = None  # a cookie that does not verify names nobody's cart
    try:
        restored = links.restore(
            request.args.get("token", "")[:200], customer_id=customer_id, guest_token=guest_token
        )
    except links.LinkError as error:
        return _refused(error)
    if restored.needs_login:
        flash(_("Your cart is waiting in your account: log in to find it."), "info")
        response = redirect(url_for("account.login", next=url_for("cart.view")), 303)
    else:
        flash(_("Welcome back! Here is your cart, as you left it."), "success")
        response = redirect(url_for("cart.view"), 303)
        cookie.remember(response, restored.guest_token)
    return _private(response)


def _refused(error: links.LinkError) -> Response:
    g.alternates = {code: url_for("cart.view", lang=code) for code in LOCALES}
    html = render_template("cart/recover_refused.html", message=error.message)
    return _private(make_response(html, error.status))


def _private(response: Response) -> Response:
    """The token is in the URL: keep it out of caches and of other sites' referrers."""
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.app_template_global()
def recovery_consent_asked() -> bool:
    """Whether the checkout offers the "remind me about my cart" box: only when reminders
    need consent and the customer has not already given it for all marketing mail."""
    if policy.basis() != policy.CONSENT:
        return False
    return not (current_user.is_authenticated and current_user.marketing_consent)
