"""Abandoned carts: value, recency, items, reminders sent, and "send the next reminder now"."""

from __future__ import annotations

from flask import Response, flash, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from shop.accounts.permissions import Permission
from shop.cart.models import Cart
from shop.extensions import db
from shop.paging import page_number
from shop.recovery import services as recovery
from shop.recovery.overview import abandoned_overview
from shop.web.admin import admin_route
from shop.web.admin.auditing import audited
from shop.web.htmx import redirect_to, render, wants_fragment

PER_PAGE = 25
DELIVERY_LABELS = {
    "pending": _l("queued"),
    "sent": _l("delivered"),
    "failed": _l("not delivered"),
}


def delivery_label(status: str | None) -> str:
    return str(DELIVERY_LABELS.get(status or "", _l("mail deleted")))


def _page_number() -> int:
    return page_number(request.args.get("page"))


def _listing(page: int, q: str) -> dict:
    locale = str(get_locale() or "fr")
    overview = abandoned_overview(
        PER_PAGE, (page - 1) * PER_PAGE, locale=locale, email_contains=q or None
    )
    pages = max(1, -(-overview.total // PER_PAGE))
    if page > pages:  # past the end (carts recovered since): show the last page
        page = pages
        overview = abandoned_overview(
            PER_PAGE, (page - 1) * PER_PAGE, locale=locale, email_contains=q or None
        )
    return {
        "overview": overview,
        "page_number": page,
        "pages": pages,
        "q": q,
        "delivery_label": delivery_label,
    }


@admin_route("/carts", Permission.CARTS_READ)
def carts() -> Response:
    q = " ".join(request.args.get("q", "").split())[:254]
    return render(
        "admin/carts/list.html", "admin/carts/_results.html", **_listing(_page_number(), q)
    )


def _step_before(cart_id: int) -> int | None:
    """The cart's last reminder step, as a plain value: loading the Cart itself here would
    leave the service's locked read with this (possibly stale) copy."""
    return db.session.scalar(select(Cart.recovery_step).where(Cart.id == cart_id))


def _step_after(cart_id: int) -> int | None:
    """Read while the service commits: the cart it locked and changed is in the session."""
    cart = db.session.get(Cart, cart_id)
    return cart.recovery_step if cart is not None else None


@admin_route("/carts/<int:cart_id>/send", Permission.CARTS_WRITE, methods=("POST",))
def carts_send(cart_id: int) -> Response:
    """Send the cart's next reminder at once. The list comes back (HTMX: its results alone)
    on the page it was sent from, with a message; a refusal changes nothing and says why
    (409)."""
    q = " ".join(request.args.get("q", "").split())[:254]
    page = _page_number()
    try:
        with audited(
            "cart.recovery_send",
            "cart",
            cart_id,
            before={"recovery_step": _step_before(cart_id)},
            after=lambda: {"recovery_step": _step_after(cart_id)},
        ):
            step = recovery.send_next_step_now(cart_id)
    except recovery.RecoveryError as refused:
        return render(
            "admin/carts/list.html",
            "admin/carts/_results.html",
            **_listing(page, q),
            message=str(refused.message),
            refused=True,
            status=409,
        )
    message = _("Reminder %(step)d is on its way.", step=step)
    if not wants_fragment():
        flash(message, "success")
        return redirect_to(url_for("admin.carts", q=q or None, page=page if page > 1 else None))
    return render("admin/carts/_results.html", **_listing(page, q), message=message)
