"""Customers in the back office: search, one customer's record, GDPR export and anonymization."""

from __future__ import annotations

from flask import Response, abort, current_app, flash, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms.validators import DataRequired

from shop.accounts.models import User
from shop.accounts.permissions import Permission
from shop.checkout.addresses import Address
from shop.clock import utcnow
from shop.paging import page_number
from shop.privacy import services as gdpr
from shop.reports import customers as reports
from shop.web.admin import admin_route
from shop.web.admin.auditing import audited
from shop.web.forms import form_status
from shop.web.htmx import redirect_to, render
from shop.web.order_status import order_status_label
from shop.web.security import form_view


class AnonymizeForm(FlaskForm):
    confirm = BooleanField(
        _l("I have checked this customer's request and want to anonymize them now."),
        validators=[DataRequired(message=_l("Tick the box to confirm the anonymization."))],
    )


PAYMENT_LABELS = {"card": _l("Card"), "bank_transfer": _l("Bank transfer")}


def payment_label(method: str) -> str:
    return str(PAYMENT_LABELS.get(method, method))


def address_lines(address: dict[str, str]) -> list[str]:
    return Address.from_dict(address).lines(str(get_locale() or "fr"))


def _page_number() -> int:
    return page_number(request.args.get("page"))


def _customer_or_404(customer_id: int) -> User:
    customer = reports.find_customer(customer_id)
    if customer is None:
        abort(404)
    return customer


def _has_page(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


@admin_route("/customers", Permission.CUSTOMERS_READ)
def customers() -> Response:
    listing = reports.customers(request.args.get("q", ""), _page_number())
    return render("admin/customers/list.html", "admin/customers/_results.html", listing=listing)


@admin_route("/customers/<int:customer_id>", Permission.CUSTOMERS_READ)
def customers_detail(customer_id: int) -> Response:
    record = reports.customer_record(_customer_or_404(customer_id))
    return render(
        "admin/customers/detail.html",
        record=record,
        status_label=order_status_label,
        payment_label=payment_label,
        address_lines=address_lines,
        order_pages=_has_page("admin.orders_detail"),
    )


@admin_route("/customers/<int:customer_id>/export", Permission.CUSTOMERS_WRITE, methods=("POST",))
def customers_export(customer_id: int) -> Response:
    """The customer's data as a ZIP of JSON files, streamed. The audit entry names the files,
    never their content."""
    customer = _customer_or_404(customer_id)
    with audited("customer.export", "user", customer.id, after={"files": list(gdpr.EXPORT_FILES)}):
        files = gdpr.export_files(customer.id)
    response = Response(gdpr.zip_stream(files), mimetype="application/zip")
    filename = f"customer-{customer.id}-{utcnow():%Y%m%d}.zip"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin_route(
    "/customers/<int:customer_id>/anonymize",
    Permission.CUSTOMERS_WRITE,
    methods=("GET", "POST"),
)
@form_view
def customers_anonymize(customer_id: int) -> Response:
    customer = _customer_or_404(customer_id)
    record = reports.customer_record(customer)
    form = AnonymizeForm()
    status = 200
    if form.validate_on_submit():
        try:
            with audited(
                "customer.anonymize",
                "user",
                customer.id,
                before={"anonymized": customer.anonymized_at is not None},
                after=lambda: {"anonymized": customer.anonymized_at is not None},
            ):
                result = gdpr.anonymize(customer.id)
        except gdpr.OrdersInProgress as error:
            form.form_errors.append(f"{error.message} ({', '.join(error.numbers)})")
            status = 409
        except gdpr.GdprError as error:
            form.form_errors.append(str(error.message))
            status = 409
        else:
            flash(
                ngettext(
                    "The customer has been anonymized; %(num)d order was scrubbed.",
                    "The customer has been anonymized; %(num)d orders were scrubbed.",
                    result.orders,
                ),
                "success",
            )
            return redirect_to(url_for("admin.customers_detail", customer_id=customer.id))
    return render(
        "admin/customers/anonymize.html",
        "admin/customers/_anonymize_form.html",
        form=form,
        record=record,
        kept_fields=gdpr.KEPT_ADDRESS_FIELDS,
        status=status if status != 200 else form_status(form),
    )
