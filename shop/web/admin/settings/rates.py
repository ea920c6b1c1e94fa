"""Tax rates and shipping methods: what checkout charges, edited by the staff."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from flask import abort, flash, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from shop.accounts.permissions import Permission
from shop.audit.services import Entry
from shop.checkout import settings as checkout_settings
from shop.checkout.addresses import SUPPORTED_COUNTRIES
from shop.checkout.defaults import percent
from shop.checkout.models import ShippingMethod, TaxRate
from shop.checkout.settings import (
    DuplicateShippingCode,
    DuplicateTaxRate,
    IncompleteShippingMethod,
    NotFound,
    ShippingMethodData,
    TaxRateData,
)
from shop.web.admin import admin_route
from shop.web.admin.auditing import audited
from shop.web.admin.settings.forms import (
    SHIPPING_KIND_LABELS,
    TAX_CLASS_LABELS,
    ConfirmForm,
    ShippingMethodForm,
    TaxRateForm,
    ToggleForm,
    country_choices,
    country_name,
    region_name,
)
from shop.web.forms import form_status
from shop.web.htmx import redirect_to, render, wants_fragment
from shop.web.security import form_view


def rate_label(rate_ppm: int) -> str:
    """« 9,975 % » in French, "9.975%" in English."""
    if str(get_locale() or "fr") == "fr":
        return f"{percent(rate_ppm, ',')}\u202f%"
    return f"{percent(rate_ppm, '.')}%"


def _labels() -> dict[str, Any]:
    return {
        "rate_label": rate_label,
        "tax_class_label": lambda key: str(TAX_CLASS_LABELS.get(key, key)),
        "shipping_kind_label": lambda key: str(SHIPPING_KIND_LABELS.get(key, key)),
        "country_name": country_name,
        "region_name": region_name,
    }


def _names(entry: Entry) -> Callable[[Any], None]:
    """A service's ``created`` callback: the audit entry names the new row."""

    def created(row: Any) -> None:
        entry.entity_id = str(row.id)

    return created


# -- tax rates -------------------------------------------------------------------------------


@admin_route("/settings/taxes", Permission.SETTINGS)
def settings_taxes() -> Response:
    country = request.args.get("country", "")
    if country not in SUPPORTED_COUNTRIES:
        country = ""
    rates = checkout_settings.tax_rates(country)
    return render(
        "admin/settings/taxes.html",
        "admin/settings/_taxes_table.html",
        rates=rates,
        country=country,
        countries=country_choices(),
        **_labels(),
    )


def _tax_data(form: TaxRateForm) -> TaxRateData:
    return TaxRateData(
        country=form.country.data,
        region=form.region.data or "",
        tax_class=form.tax_class.data,
        name_fr=form.name_fr.data,
        name_en=form.name_en.data,
        rate_ppm=form.rate.data,
        position=form.position.data or 0,
    )


def _tax_form_page(form: TaxRateForm, rate: TaxRate | None, status: int) -> Response:
    return render(
        "admin/settings/tax_form.html",
        "admin/settings/_tax_form.html",
        form=form,
        rate=rate,
        status=status,
    )


@admin_route("/settings/taxes/new", Permission.SETTINGS, methods=("GET", "POST"))
@form_view
def settings_tax_new() -> Response:
    form = TaxRateForm()
    if request.method == "GET":
        form.country.data = request.args.get("country") or "FR"
        form.region.data = request.args.get("region", "")
    status = 200
    if form.validate_on_submit():
        data = _tax_data(form)
        try:
            with audited("tax_rate.create", "tax_rate", after=asdict(data)) as entry:
                checkout_settings.create_tax_rate(data, created=_names(entry))
        except DuplicateTaxRate as error:
            form.name_fr.errors.append(str(error.message))
            status = 409
        else:
            flash(_("Tax rate added."), "success")
            return redirect_to(url_for("admin.settings_taxes", country=data.country))
    return _tax_form_page(form, None, status if status != 200 else form_status(form))


def _rate_or_404(tax_rate_id: int) -> TaxRate:
    try:
        return checkout_settings.tax_rate(tax_rate_id)
    except NotFound:
        abort(404)


@admin_route("/settings/taxes/<int:tax_rate_id>", Permission.SETTINGS, methods=("GET", "POST"))
@form_view
def settings_tax_edit(tax_rate_id: int) -> Response:
    rate = _rate_or_404(tax_rate_id)
    form = TaxRateForm() if request.method == "POST" else TaxRateForm(obj=rate)
    if request.method == "GET":
        form.rate.data = rate.rate_ppm
    status = 200
    if form.validate_on_submit():
        before = checkout_settings.tax_rate_snapshot(rate)
        try:
            with audited(
                "tax_rate.update",
                "tax_rate",
                rate.id,
                before=before,
                after=lambda: checkout_settings.tax_rate_snapshot(rate),
            ):
                checkout_settings.update_tax_rate(rate.id, _tax_data(form))
        except DuplicateTaxRate as error:
            form.name_fr.errors.append(str(error.message))
            status = 409
            rate = _rate_or_404(tax_rate_id)
        else:
            flash(_("Tax rate saved."), "success")
            return redirect_to(url_for("admin.settings_taxes", country=rate.country))
    return _tax_form_page(form, rate, status if status != 200 else form_status(form))


@admin_route(
    "/settings/taxes/<int:tax_rate_id>/delete", Permission.SETTINGS, methods=("GET", "POST")
)
@form_view
def settings_tax_delete(tax_rate_id: int) -> Response:
    rate = _rate_or_404(tax_rate_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        snapshot = checkout_settings.tax_rate_snapshot(rate)
        with audited("tax_rate.delete", "tax_rate", rate.id, before=snapshot):
            checkout_settings.delete_tax_rate(rate.id)
        flash(_("Tax rate deleted."), "success")
        return redirect_to(url_for("admin.settings_taxes", country=snapshot["country"]))
    return render(
        "admin/settings/tax_delete.html",
        form=form,
        rate=rate,
        status=form_status(form),
        **_labels(),
    )


# -- shipping methods ------------------------------------------------------------------------


@admin_route("/settings/shipping", Permission.SETTINGS)
def settings_shipping() -> Response:
    return render(
        "admin/settings/shipping.html",
        methods=checkout_settings.shipping_methods(),
        **_labels(),
    )


def _shipping_data(form: ShippingMethodForm) -> ShippingMethodData:
    return ShippingMethodData(
        code=form.code.data,
        kind=form.kind.data,
        name_fr=form.name_fr.data,
        name_en=form.name_en.data,
        price=form.price.data,
        free_over=form.free_over.data,
        countries=sorted(set(form.countries.data or ()), key=SUPPORTED_COUNTRIES.index),
        tax_class=form.tax_class.data,
        position=form.position.data or 0,
        active=bool(form.active.data),
    )


def _shipping_form_page(
    form: ShippingMethodForm, method: ShippingMethod | None, status: int
) -> Response:
    return render(
        "admin/settings/shipping_form.html",
        "admin/settings/_shipping_form.html",
        form=form,
        method=method,
        status=status,
    )


def _save_shipping(
    form: ShippingMethodForm, method: ShippingMethod | None
) -> tuple[ShippingMethod | None, int]:
    """Create or update from the form; on a refusal the error goes on its field."""
    data = _shipping_data(form)
    try:
        if method is None:
            with audited("shipping_method.create", "shipping_method", after=asdict(data)) as e:
                method = checkout_settings.create_shipping_method(data, created=_names(e))
        else:
            saved = method
            with audited(
                "shipping_method.update",
                "shipping_method",
                method.id,
                before=checkout_settings.shipping_snapshot(method),
                after=lambda: checkout_settings.shipping_snapshot(saved),
            ):
                checkout_settings.update_shipping_method(method.id, data)
    except DuplicateShippingCode as error:
        form.code.errors.append(str(error.message))
        return None, 409
    except IncompleteShippingMethod as error:
        form[error.field].errors.append(str(error.message))
        return None, 422
    return method, 200


@admin_route("/settings/shipping/new", Permission.SETTINGS, methods=("GET", "POST"))
@form_view
def settings_shipping_new() -> Response:
    form = ShippingMethodForm()
    status = 200
    if form.validate_on_submit():
        method, status = _save_shipping(form, None)
        if method is not None:
            flash(_("Delivery method added."), "success")
            return redirect_to(url_for("admin.settings_shipping"))
    return _shipping_form_page(form, None, status if status != 200 else form_status(form))


def _method_or_404(shipping_method_id: int) -> ShippingMethod:
    try:
        return checkout_settings.shipping_method(shipping_method_id)
    except NotFound:
        abort(404)


@admin_route(
    "/settings/shipping/<int:shipping_method_id>", Permission.SETTINGS, methods=("GET", "POST")
)
@form_view
def settings_shipping_edit(shipping_method_id: int) -> Response:
    method = _method_or_404(shipping_method_id)
    form = ShippingMethodForm() if request.method == "POST" else ShippingMethodForm(obj=method)
    status = 200
    if form.validate_on_submit():
        saved, status = _save_shipping(form, method)
        if saved is not None:
            flash(_("Delivery method saved."), "success")
            return redirect_to(url_for("admin.settings_shipping"))
        method = _method_or_404(shipping_method_id)
    return _shipping_form_page(form, method, status if status != 200 else form_status(form))


@admin_route(
    "/settings/shipping/<int:shipping_method_id>/active", Permission.SETTINGS, methods=("POST",)
)
@form_view
def settings_shipping_active(shipping_method_id: int) -> Response:
    """Offer or withdraw a method at checkout; the list row swaps itself under HTMX."""
    method = _method_or_404(shipping_method_id)
    form = ToggleForm()
    error, status = None, 200
    if form.validate_on_submit():
        active = form.active.data == "1"
        if active != method.active:
            with audited(
                "shipping_method.enable" if active else "shipping_method.disable",
                "shipping_method",
                method.id,
                before={"active": method.active},
                after={"active": active},
            ):
                checkout_settings.set_shipping_active(method.id, active)
        if not wants_fragment():
            flash(_("Delivery method saved."), "success")
            return redirect_to(url_for("admin.settings_shipping"))
    else:
        status = form_status(form)
        error = (form.form_errors or [_("Use the button of the list to do this.")])[0]
    return render(
        "admin/settings/shipping.html",
        "admin/settings/_shipping_row.html",
        methods=checkout_settings.shipping_methods(),
        method=method,
        error=error,
        status=status,
        **_labels(),
    )
