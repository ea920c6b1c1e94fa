"""Forms of the stock pages: a correction or a receipt (always with a reason) and the
low-stock threshold of one variant."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from shop.web.admin.numbers import parse_quantity


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


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
