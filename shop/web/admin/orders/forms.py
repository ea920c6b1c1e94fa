"""Forms of the order pages: the list's filters (read from the query string), the moves staff
make on one order, and amounts typed the way the staff member writes them (« 12,50 » in
French, "12.50" in English)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from shop.backoffice import orders as admin_queries
from shop.backoffice.orders import OrderFilters
from shop.orders.models import OrderStatus
from shop.web.admin import numbers
from shop.web.admin.numbers import BadNumber

AMOUNT_HINT = _l("An amount such as 12,50 or 12.50.")
AMOUNT_ERROR = _l("Please enter an amount such as 12,50 or 12.50.")


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class AmountField(StringField):
    """A money amount in the staff member's way of writing it; ``data`` is minor units."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.raw = valuelist[0] if valuelist else ""
        self.data = None
        if not self.raw.strip():
            return
        try:
            self.data = numbers.parse_amount(self.raw)
        except BadNumber as error:
            raise ValueError(str(AMOUNT_ERROR)) from error

    def _value(self) -> str:
        return getattr(self, "raw", "") or ""


# -- the list ----------------------------------------------------------------------------------


def _parse_date(text: str) -> date:
    return date.fromisoformat(text.strip())


def read_filters(args: Any) -> tuple[OrderFilters, dict[str, str]]:
    """The list's filters from the query string, and a translated error per bad one (the
    bad filter is then ignored, the others still apply)."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, key in (("date_from", "from"), ("date_to", "to")):
        text = args.get(key, "").strip()
        if text:
            try:
                values[name] = _parse_date(text)
            except ValueError:
                errors[key] = _("Please enter a date such as 2026-11-22.")
    for name, key in (("amount_min", "min"), ("amount_max", "max")):
        text = args.get(key, "").strip()
        if text:
            try:
                values[name] = numbers.parse_amount(text)
            except BadNumber:
                errors[key] = _("Please enter an amount such as 12,50 or 12.50.")
    status = args.get("status", "")
    payment = args.get("payment", "")
    filters = OrderFilters(
        q=args.get("q", "").strip()[:200],
        status=status if status in OrderStatus.ALL else "",
        payment_method=payment if payment in admin_queries.PAYMENT_METHODS else "",
        **values,
    )
    return filters, errors


# -- one order ---------------------------------------------------------------------------------


class FulfilForm(FlaskForm):
    carrier = SelectField(
        _l("Carrier"),
        choices=[],
        validators=[InputRequired(message=_l("Please choose a carrier."))],
    )
    tracking_number = StringField(
        _l("Tracking number"),
        validators=[
            DataRequired(message=_l("Please enter the tracking number.")),
            Length(max=80, message=_l("At most 80 characters.")),
        ],
        filters=[_strip],
    )
    tracking_url = StringField(
        _l("Tracking link (other carrier only)"),
        validators=[Optional(), Length(max=300, message=_l("At most 300 characters."))],
        filters=[_strip],
    )


class MarkPaidForm(FlaskForm):
    confirm = BooleanField(
        _l("I have checked that the transfer arrived on the shop's account."),
        validators=[DataRequired(message=_l("Please confirm that the transfer arrived."))],
    )


class CancelForm(FlaskForm):
    reason = StringField(
        _l("Reason (optional)"), validators=[Optional(), Length(max=255)], filters=[_strip]
    )
    confirm = BooleanField(
        _l("Cancel this order and give its stock back."),
        validators=[DataRequired(message=_l("Please confirm the cancellation."))],
    )


class CompleteForm(FlaskForm):
    confirm = BooleanField(
        _l("The customer has received the order; nothing is left to do."),
        validators=[DataRequired(message=_l("Please confirm that the order is complete."))],
    )


class RefundForm(FlaskForm):
    amount = AmountField(
        _l("Amount to refund"),
        validators=[InputRequired(message=_l("Please enter the amount to refund."))],
        description=AMOUNT_HINT,
    )
    reason = StringField(
        _l("Reason (optional)"), validators=[Optional(), Length(max=255)], filters=[_strip]
    )

    def validate_amount(self, field: AmountField) -> None:
        if field.data is not None and field.data <= 0:
            raise ValidationError(str(_l("The amount must be more than zero.")))


class ResendForm(FlaskForm):
    kind = SelectField(
        _l("Email"),
        choices=[],
        validators=[InputRequired(message=_l("Please choose the email to send again."))],
    )
    event_id = HiddenField()
