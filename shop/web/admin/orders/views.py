"""Back-office orders: the list, one order's page with its timeline, the moves staff make
(fulfil, confirm a transfer, cancel, refund, send an email again) and its invoices' PDFs.

Each move is one service call inside ``audited(...)``; a refused move re-renders the order's
actions with a translated message and a 4xx, and changes nothing.
"""

from __future__ import annotations

from typing import Any

from flask import Response as FlaskResponse
from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from shop.accounts.permissions import Permission
from shop.backoffice import orders as admin_queries
from shop.backoffice import payments as backoffice
from shop.backoffice import resend
from shop.backoffice.orders import OrderDetail
from shop.extensions import db
from shop.invoices.models import Invoice
from shop.invoices.pdf import ask_for, stored_pdf
from shop.orders import fulfilment
from shop.orders import services as orders
from shop.orders.models import OrderStatus
from shop.paging import page_number
from shop.payments.stripe_gateway import PaymentError
from shop.web.admin import admin_route, can, numbers
from shop.web.admin.auditing import audited
from shop.web.admin.numbers import parse_quantity
from shop.web.admin.orders.forms import (
    CancelForm,
    CompleteForm,
    FulfilForm,
    MarkPaidForm,
    RefundForm,
    ResendForm,
    read_filters,
)
from shop.web.admin.orders.labels import EMAIL_LABELS, PAYMENT_LABELS
from shop.web.forms import form_status
from shop.web.htmx import redirect_to, render
from shop.web.security import form_view

INVALID_MOVE = 409


# -- the list --------------------------------------------------------------------------------


def _filter_args(args: Any) -> dict[str, str]:
    keys = ("q", "status", "from", "to", "min", "max", "payment")
    return {k: args.get(k, "").strip() for k in keys if args.get(k, "").strip()}


def _page_number() -> int:
    return page_number(request.args.get("page"))


@admin_route("/orders", Permission.ORDERS_READ, endpoint="orders")
def orders_list() -> Response:
    filters, errors = read_filters(request.args)
    page = admin_queries.order_page(filters, page=_page_number())
    return render(
        "admin/orders/list.html",
        "admin/orders/_results.html",
        status=400 if errors else 200,
        filters=filters,
        errors=errors,
        args=_filter_args(request.args),
        listing=page,
        statuses=OrderStatus.ALL,
        payment_labels=PAYMENT_LABELS,
    )


# -- one order -------------------------------------------------------------------------------


def _detail_or_404(order_id: int) -> OrderDetail:
    detail = admin_queries.order_detail(order_id)
    if detail is None:
        abort(404)
    return detail


def _carriers() -> list[SelectChoice]:
    """The carriers the fulfilment service knows, named in the staff member's language."""
    return [
        SelectChoice("", _("Choose…")),
        *(SelectChoice(code, str(c.name)) for code, c in fulfilment.CARRIERS.items()),
    ]


def _resend_choices(detail: OrderDetail) -> list[SelectChoice]:
    available = resend.sources(detail.order.id, detail.events)
    return [
        SelectChoice(kind, str(EMAIL_LABELS.get(kind, kind)))
        for kind in resend.RESENDABLE
        if kind in available
    ]


def _forms(detail: OrderDetail, **submitted: FlaskForm) -> dict[str, Any]:
    fulfil = submitted.get("fulfil_form") or FulfilForm(formdata=None)
    fulfil.carrier.choices = _carriers()
    resend_form = submitted.get("resend_form") or ResendForm(formdata=None)
    resend_form.kind.choices = _resend_choices(detail)
    refund_form = submitted.get("refund_form")
    if refund_form is None:
        refund_form = RefundForm(formdata=None)
        refund_form.amount.raw = numbers.format_minor(
            detail.order.refundable, currency=detail.order.currency
        )
    return {
        "fulfil_form": fulfil,
        "mark_paid_form": submitted.get("mark_paid_form") or MarkPaidForm(formdata=None),
        "cancel_form": submitted.get("cancel_form") or CancelForm(formdata=None),
        "complete_form": submitted.get("complete_form") or CompleteForm(formdata=None),
        "refund_form": refund_form,
        "resend_form": resend_form,
    }


def _page(detail: OrderDetail, status: int = 200, **context: Any) -> Response:
    forms = _forms(detail, **{k: v for k, v in context.items() if k.endswith("_form")})
    rest = {k: v for k, v in context.items() if not k.endswith("_form")}
    return render(
        "admin/orders/detail.html",
        "admin/orders/_actions.html",
        status=status,
        detail=detail,
        order=detail.order,
        payment_labels=PAYMENT_LABELS,
        email_labels=EMAIL_LABELS,
        can_fulfil=_can_fulfil(detail),
        customer_url=_customer_url(detail.order.customer_id),
        restock_values=rest.pop("restock_values", {}),
        restock_errors=rest.pop("restock_errors", {}),
        **forms,
        **rest,
    )


def _customer_url(customer_id: int | None) -> str | None:
    """The customer's back-office page, when there is one (and its module is installed)."""
    if customer_id is None or not can(Permission.CUSTOMERS_READ):
        return None
    try:
        return url_for("admin.customers_detail", customer_id=customer_id)
    except BuildError:
        return None


def _can_fulfil(detail: OrderDetail) -> bool:
    return detail.order.can_move_to(OrderStatus.FULFILLED) and not detail.shipments


@admin_route("/orders/<int:order_id>", Permission.ORDERS_READ)
def orders_detail(order_id: int) -> Response:
    return _page(_detail_or_404(order_id))


def _refused(
    detail: OrderDetail, message: str, status: int = INVALID_MOVE, **forms: Any
) -> Response:
    return _page(detail, status, action_error=message, **forms)


def _done(order_id: int, message: str) -> Response:
    flash(message, "success")
    return redirect_to(url_for("admin.orders_detail", order_id=order_id))


@admin_route("/orders/<int:order_id>/fulfil", Permission.ORDERS_WRITE, methods=("POST",))
@form_view
def orders_fulfil(order_id: int) -> Response:
    detail = _detail_or_404(order_id)
    form = FulfilForm()
    form.carrier.choices = _carriers()
    if not form.validate_on_submit():
        return _page(detail, form_status(form), fulfil_form=form, open_action="fulfil")
    order = detail.order
    try:
        with audited(
            "order.fulfil",
            "order",
            order.id,
            before={"status": order.status},
            after=lambda: {
                "status": order.status,
                "carrier": form.carrier.data,
                "tracking_number": form.tracking_number.data,
            },
        ):
            fulfilment.fulfil(
                order.id,
                carrier=form.carrier.data,
                tracking_number=form.tracking_number.data,
                tracking_url=form.tracking_url.data or None,
                actor_id=current_user.id,
            )
    except (fulfilment.UnknownCarrier, fulfilment.InvalidTrackingNumber) as error:
        db.session.rollback()
        target = form.carrier if isinstance(error, fulfilment.UnknownCarrier) else None
        (target or form.tracking_number).errors = [str(error.message)]
        return _page(detail, 422, fulfil_form=form, open_action="fulfil")
    except fulfilment.InvalidTrackingUrl as error:
        db.session.rollback()
        form.tracking_url.errors = [str(error.message)]
        return _page(detail, 422, fulfil_form=form, open_action="fulfil")
    except orders.OrderError as error:
        db.session.rollback()
        return _refused(detail, str(error.message), fulfil_form=form)
    return _done(order_id, _("The order is marked as shipped; the customer is told by email."))


@admin_route("/orders/<int:order_id>/complete", Permission.ORDERS_WRITE, methods=("POST",))
@form_view
def orders_complete(order_id: int) -> Response:
    detail = _detail_or_404(order_id)
    form = CompleteForm()
    if not form.validate_on_submit():
        return _page(detail, form_status(form), complete_form=form, open_action="complete")
    order = detail.order
    try:
        with audited(
            "order.complete",
            "order",
            order.id,
            before={"status": order.status},
            after=lambda: {"status": order.status},
        ):
            fulfilment.complete(order.id)
    except orders.OrderError as error:
        db.session.rollback()
        return _refused(detail, str(error.message), complete_form=form)
    return _done(order_id, _("The order is completed."))


@admin_route("/orders/<int:order_id>/mark-paid", Permission.ORDERS_WRITE, methods=("POST",))
@form_view
def orders_mark_paid(order_id: int) -> Response:
    detail = _detail_or_404(order_id)
    form = MarkPaidForm()
    if not form.validate_on_submit():
        return _page(detail, form_status(form), mark_paid_form=form, open_action="mark_paid")
    order = detail.order
    try:
        with audited(
            "order.mark_paid",
            "order",
            order.id,
            before={"status": order.status},
            after=lambda: {"status": order.status},
        ):
            backoffice.mark_transfer_paid(order.id)
    except orders.OrderError as error:
        db.session.rollback()
        return _refused(detail, str(error.message), mark_paid_form=form)
    return _done(order_id, _("The transfer is recorded: the order is paid."))


@admin_route("/orders/<int:order_id>/cancel", Permission.ORDERS_WRITE, methods=("POST",))
@form_view
def orders_cancel(order_id: int) -> Response:
    detail = _detail_or_404(order_id)
    form = CancelForm()
    if not form.validate_on_submit():
        return _page(detail, form_status(form), cancel_form=form, open_action="cancel")
    order = detail.order
    try:
        with audited(
            "order.cancel",
            "order",
            order.id,
            before={"status": order.status},
            after=lambda: {"status": order.status, "reason": form.reason.data or ""},
        ):
            orders.cancel(order.id, reason=form.reason.data or "")
    except orders.OrderError as error:
        db.session.rollback()
        return _refused(detail, str(error.message), cancel_form=form)
    return _done(order_id, _("The order is cancelled and its stock is available again."))


def _restock_from_form(
    detail: OrderDetail,
) -> tuple[dict[int, int], dict[int, str], dict[int, str]]:
    """``restock-<line id>`` fields: quantities back to stock, per-line errors, raw values."""
    allowed = detail.restockable()
    wanted: dict[int, int] = {}
    errors: dict[int, str] = {}
    raw: dict[int, str] = {}
    for line_id, most in allowed.items():
        text = request.form.get(f"restock-{line_id}", "").strip()
        raw[line_id] = text
        if not text or text == "0":
            continue
        try:
            quantity = parse_quantity(text)
        except ValueError:
            errors[line_id] = _("Please enter a whole number, 0 or more.")
            continue
        if quantity > most:
            errors[line_id] = ngettext(
                "At most %(num)d unit can come back to stock.",
                "At most %(num)d units can come back to stock.",
                most,
            )
        elif quantity:
            wanted[line_id] = quantity
    return wanted, errors, raw


@admin_route("/orders/<int:order_id>/refund", Permission.REFUNDS, methods=("POST",))
@form_view
def orders_refund(order_id: int) -> Response:
    detail = _detail_or_404(order_id)
    order = detail.order
    form = RefundForm()
    restock, restock_errors, raw = _restock_from_form(detail)
    valid = form.validate_on_submit()
    if valid and form.amount.data is not None and form.amount.data > order.refundable:
        form.amount.errors = [
            _(
                "A refund cannot be more than what is left to refund on the order (%(amount)s).",
                amount=_money(order.refundable, order.currency),
            )
        ]
        valid = False
    if not valid or restock_errors:
        return _page(
            detail,
            form_status(form) if not valid else 422,
            refund_form=form,
            restock_values=raw,
            restock_errors=restock_errors,
            open_action="refund",
        )
    amount = int(form.amount.data)
    before = {"status": order.status, "amount_refunded": order.amount_refunded}
    try:
        with audited(
            "order.refund",
            "order",
            order.id,
            before=before,
            after=lambda: {
                "status": order.status,
                "amount_refunded": order.amount_refunded,
                "refund": amount,
                "restock": {str(k): v for k, v in restock.items()},
                "reason": form.reason.data or "",
            },
        ):
            backoffice.refund(
                order.id,
                amount,
                restock=restock,
                reason=form.reason.data or "",
                actor_id=current_user.id,
            )
    except orders.RefundTooLarge as error:
        db.session.rollback()
        form.amount.errors = [str(error.message)]
        return _page(detail, 422, refund_form=form, restock_values=raw, open_action="refund")
    except orders.OrderError as error:
        db.session.rollback()
        return _refused(detail, str(error.message), refund_form=form, restock_values=raw)
    except PaymentError as error:
        db.session.rollback()
        return _refused(detail, str(error.message), 502, refund_form=form, restock_values=raw)
    return _done(
        order_id,
        _("%(amount)s refunded.", amount=_money(amount, order.currency)),
    )


def _money(minor: int, currency: str) -> str:
    from shop.web.templating import money

    return money(minor, currency)


@admin_route("/orders/<int:order_id>/resend", Permission.EMAILS_RESEND, methods=("POST",))
@form_view
def orders_resend(order_id: int) -> Response:
    detail = _detail_or_404(order_id)
    form = ResendForm()
    form.kind.choices = _resend_choices(detail)
    if not form.validate_on_submit():
        return _page(detail, form_status(form), resend_form=form, open_action="resend")
    event_id = None
    if form.event_id.data:
        try:
            event_id = int(form.event_id.data)
        except ValueError:
            event_id = -1
    try:
        with audited("order.resend_email", "order", order_id) as entry:
            message = resend.queue_resend(order_id, form.kind.data, event_id=event_id)
            entry.after = {
                "email": form.kind.data,
                "email_id": message.id,
                "to": message.to_address,
            }
    except resend.ResendError as error:
        db.session.rollback()
        return _refused(detail, str(error.message), 422, resend_form=form)
    return _done(
        order_id,
        _(
            "The email “%(email)s” is on its way to %(address)s.",
            email=EMAIL_LABELS[form.kind.data],
            address=message.to_address,
        ),
    )


@admin_route("/orders/invoices/<int:invoice_id>.pdf", Permission.ORDERS_READ)
def orders_invoice(invoice_id: int) -> Response:
    """The stored PDF of an invoice or credit note. A request never renders one: before the
    worker has, the order page says it is being prepared (and the job is asked again)."""
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None:
        abort(404)
    path = stored_pdf(invoice)
    if path is None:
        ask_for(invoice)
        flash(
            _(
                "%(number)s is being prepared: its PDF will be ready in a few moments.",
                number=invoice.full_number,
            ),
            "info",
        )
        return redirect_to(url_for("admin.orders_detail", order_id=invoice.order_id))
    # Read whole (a few dozen kB): no file handle left open if the client goes away.
    response = FlaskResponse(path.read_bytes(), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f"inline; filename={invoice.filename}"
    return response
