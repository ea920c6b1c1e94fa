"""Unsubscribing from marketing mail, from the link every marketing mail carries.

GET shows a confirmation form (mail scanners follow links: a GET changes nothing). POST
unsubscribes: our form with its CSRF token, or a mail client's RFC 8058 one-click POST
(body ``List-Unsubscribe=One-Click``), which cannot carry one. Either way the signed token
in the URL is what authorizes it (it never expires); a bad token answers a translated 400.
"""

from __future__ import annotations

from flask import request
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from shop.emails import services as emails
from shop.emails import suppression
from shop.i18n import localized_route
from shop.web.account import bp
from shop.web.forms import form_status
from shop.web.htmx import render
from shop.web.security import form_view


class UnsubscribeForm(FlaskForm):
    """CSRF only: the address comes from the signed token."""


@localized_route(
    bp, {"fr": "/compte/desinscription", "en": "/account/unsubscribe"}, methods=["GET", "POST"]
)
@form_view
def unsubscribe() -> Response:
    token = request.args.get("token", "")[:500]
    address = emails.address_for_unsubscribe_token(token) if token else None
    if address is None:
        return _private(render("account/unsubscribe_invalid.html", status=400))
    form = UnsubscribeForm()
    if _one_click() or form.validate_on_submit():
        suppression.unsubscribe(address)
        return _private(
            render("account/unsubscribe_done.html", "account/_unsubscribe_done.html", email=address)
        )
    return _private(
        render(
            "account/unsubscribe.html",
            "account/_unsubscribe_form.html",
            form=form,
            email=address,
            token=token,
            status=form_status(form),
        )
    )


def _one_click() -> bool:
    """RFC 8058's POST, exempt from CSRF: exactly this field and value, nothing looser."""
    return request.method == "POST" and request.form.get("List-Unsubscribe") == "One-Click"


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
