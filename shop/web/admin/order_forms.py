"""Forms of the order and stock pages, and amounts typed the way the staff member writes them
(« 12,50 » in French, "12.50" in English)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from shop.web.admin import numbers
from shop.web.admin.numbers import BadNumber

AMOUNT_HINT = _l("An amount such as 12,50 or 12.50.")
AMOUNT_ERROR = _l("Please enter an amount such as 12,50 or 12.50.")
_SPACES = str.maketrans("", "", " \u00a0\u202f")


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def parse_quantity(text: str, *, signed: bool = False) -> int:
    """A whole number of units; ``signed`` allows a leading minus. Raises ``ValueError``."""
    cleaned = (text or "").strip().replace("\u2212", "-").translate(_SPACES)
    if cleaned.startswith("+"):
        cleaned = cleaned[1:]
    body = cleaned[1:] if signed and cleaned.startswith("-") else cleaned
    if not body.isdigit() or len(body) > 9:
        raise ValueError(text)
    return int(cleaned)


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


# -- orders ----------------------------------------------------------------------------------


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


# -- stock -----------------------------------------------------------------------------------


class AdjustStockForm(FlaskForm):
    kind = RadioField(
        _l("Kind of change"),
        choices=[
            SelectChoice("adjustment", _l("Correction (count, damage, loss…): + or −")),
            SelectChoice("receipt", _l("Goods received: +")),
        ],
        default="adjustment",
        validators=[InputRequired(message=_l("Please choose the kind of change."))],
    )
    quantity = StringField(
        _l("Quantity"),
        validators=[DataRequired(message=_l("Please enter a quantity, such as 5 or -2."))],
        description=_l("Units to add (5) or remove (-2)."),
    )
    reason = StringField(
        _l("Reason"),
        validators=[
            DataRequired(message=_l("Please give a reason for this stock change.")),
            Length(max=255),
        ],
        filters=[_strip],
    )

    def validate_quantity(self, field: StringField) -> None:
        try:
            quantity = parse_quantity(field.data or "", signed=True)
        except ValueError as error:
            raise ValidationError(
                str(_l("Please enter a whole number, such as 5 or -2."))
            ) from error
        if quantity == 0:
            raise ValidationError(str(_l("Enter a quantity other than zero.")))
        if self.kind.data == "receipt" and quantity < 0:
            raise ValidationError(str(_l("Goods received add stock: enter a positive number.")))
        field.number = quantity  # type: ignore[attr-defined]


class ThresholdForm(FlaskForm):
    threshold = StringField(
        _l("Low-stock threshold"),
        description=_l("Low stock at or below this many available units."),
    )
    use_default = BooleanField(_l("Use the shop default"))

    def validate_threshold(self, field: StringField) -> None:
        field.number = None  # type: ignore[attr-defined]
        if self.use_default.data:
            return
        if not (field.data or "").strip():
            raise ValidationError(str(_l("Please enter a threshold, or choose the shop default.")))
        try:
            field.number = parse_quantity(field.data or "")  # type: ignore[attr-defined]
        except ValueError as error:
            raise ValidationError(str(_l("Please enter a whole number, 0 or more."))) from error
