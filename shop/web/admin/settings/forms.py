"""The settings forms. Each one checks and normalizes what was typed; the views save it."""

from __future__ import annotations

import re
from collections.abc import Callable
from email.utils import parseaddr
from typing import Any

from babel import Locale
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from shop.catalogue.models import TaxClass
from shop.checkout.addresses import CANADIAN_PROVINCES, SUPPORTED_COUNTRIES
from shop.checkout.models import ShippingKind
from shop.emails.transport import SCHEMES
from shop.platform import bank, legal
from shop.recovery import policy
from shop.web.admin.settings.fields import MoneyField, PercentField

TAX_CLASS_LABELS = {
    TaxClass.STANDARD: _l("Standard rate"),
    TaxClass.REDUCED: _l("Reduced rate"),
    TaxClass.SUPER_REDUCED: _l("Super-reduced rate"),
    TaxClass.ZERO: _l("Zero rate"),
}
SHIPPING_KIND_LABELS = {
    ShippingKind.FLAT: _l("Flat rate"),
    ShippingKind.FREE_OVER: _l("Flat rate, free from an order amount"),
    ShippingKind.PICKUP: _l("Pickup (free)"),
}
SMTP_SECURITY_LABELS = {
    "smtp+starttls": _l("STARTTLS (usually port 587)"),
    "smtps": _l("SSL/TLS (usually port 465)"),
    "smtp": _l("None (local relay only)"),
}
REQUIRED = _l("This field is required.")
_CODE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_PHONE = re.compile(r"\+?[0-9 .()\-\u00a0]{6,25}")


def country_name(code: str) -> str:
    return Locale.parse(str(get_locale() or "fr")).territories.get(code, code)


def country_choices() -> list[SelectChoice]:
    return [SelectChoice(code, country_name(code)) for code in SUPPORTED_COUNTRIES]


def region_name(region: str) -> str:
    names = CANADIAN_PROVINCES.get(region)
    return names["fr" if str(get_locale() or "fr") == "fr" else "en"] if names else region


def _normalized(check: Callable[..., str], **context: Callable[[FlaskForm], str]):
    """A validator that replaces the field's data with ``check``'s normal form."""

    def validate(form: FlaskForm, field: Field) -> None:
        if not field.data:
            return
        extra = {name: get(form) for name, get in context.items()}
        try:
            field.data = check(field.data, **extra)
        except legal.InvalidIdentifier as error:
            raise ValidationError(str(error.message)) from error

    return validate


def _siren(form: FlaskForm) -> str:
    """The SIREN of the SIRET field, when it was valid (checked before the fields using it)."""
    if form.siret.errors or not form.siret.data:
        return ""
    return legal.siren_of(form.siret.data)


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


STRIP = [_stripped]


# -- store identity --------------------------------------------------------------------------


class IdentityForm(FlaskForm):
    legal_name = StringField(
        _l("Legal name"),
        validators=[DataRequired(message=REQUIRED), Length(max=200)],
        filters=STRIP,
        description=_l("As registered, e.g. Comptoir SAS. Printed on invoices."),
    )
    trade_name = StringField(
        _l("Trade name"), validators=[Optional(), Length(max=200)], filters=STRIP
    )
    legal_form = StringField(
        _l("Legal form"),
        validators=[Optional(), Length(max=200)],
        filters=STRIP,
        description=_l("e.g. SAS, SARL, inc."),
    )
    share_capital = MoneyField(_l("Share capital"), validators=[Optional()])
    legal_address = TextAreaField(
        _l("Registered address"),
        validators=[DataRequired(message=REQUIRED), Length(max=500)],
        filters=STRIP,
    )
    siret = StringField(
        _l("SIREN or SIRET"),
        validators=[Optional(), _normalized(legal.normalize_siret)],
        filters=STRIP,
        description=_l("9 or 14 digits (French companies)."),
    )
    vat_number = StringField(
        _l("VAT number"),
        validators=[Optional(), _normalized(legal.normalize_vat, siren=_siren)],
        filters=STRIP,
        description=_l("With its country prefix, e.g. FR12 345678901."),
    )
    rcs = StringField(
        _l("Trade and companies register (RCS)"),
        validators=[Optional(), _normalized(legal.normalize_rcs, siren=_siren)],
        filters=STRIP,
        description=_l("e.g. RCS Paris 123 456 789."),
    )
    gst_number = StringField(
        _l("GST/HST registration number"),
        validators=[Optional(), _normalized(legal.normalize_gst)],
        filters=STRIP,
        description=_l("Canada: e.g. 123456782 RT0001."),
    )
    qst_number = StringField(
        _l("QST registration number"),
        validators=[Optional(), _normalized(legal.normalize_qst)],
        filters=STRIP,
        description=_l("Québec: e.g. 1234567890 TQ0001."),
    )
    legal_email = EmailField(
        _l("Contact email"),
        validators=[
            Optional(),
            Length(max=254),
            Email(message=_l("Enter a valid email address."), check_deliverability=False),
        ],
        filters=STRIP,
    )
    legal_phone = StringField(_l("Contact phone"), validators=[Optional()], filters=STRIP)

    def validate_legal_phone(self, field: Field) -> None:
        if field.data and (
            not _PHONE.fullmatch(field.data) or len(re.sub(r"\D", "", field.data)) < 6
        ):
            raise ValidationError(str(_l("Enter a phone number, e.g. +33 1 23 45 67 89.")))

    def values(self) -> dict[str, str]:
        """What to store: text keys, the capital in minor units; empty means unset."""
        values = {name: self[name].data or "" for name in IDENTITY_FIELDS}
        capital = self.share_capital.data
        values["share_capital"] = "" if capital is None else str(capital)
        return values


IDENTITY_FIELDS = legal.IDENTITY_KEYS  # the form has one field per identity setting


# -- tax rates -------------------------------------------------------------------------------


class TaxRateForm(FlaskForm):
    country = SelectField(_l("Country"), validate_choice=False)
    region = SelectField(
        _l("Province"),
        validate_choice=False,
        description=_l("Canada only: leave “Whole country” for the rest of the world."),
    )
    tax_class = SelectField(_l("Tax class"), validate_choice=False)
    name_fr = StringField(
        _l("Name in French"),
        validators=[DataRequired(message=REQUIRED), Length(max=60)],
        filters=STRIP,
        description=_l("As printed on invoices, e.g. TVA 20 %, TPS, TVQ."),
    )
    name_en = StringField(
        _l("Name in English"),
        validators=[DataRequired(message=REQUIRED), Length(max=60)],
        filters=STRIP,
        description=_l("e.g. VAT 20%, GST, QST."),
    )
    rate = PercentField(
        _l("Rate (%)"),
        validators=[InputRequired(message=REQUIRED)],
        description=_l("e.g. 20, 5,5 or 9,975."),
    )
    position = IntegerField(
        _l("Order on invoices"),
        default=0,
        validators=[Optional(), NumberRange(min=0, max=999)],
        description=_l("Components of one destination are printed in this order."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices()
        self.region.choices = [SelectChoice("", str(_l("Whole country")))] + [
            SelectChoice(code, region_name(code)) for code in CANADIAN_PROVINCES
        ]
        self.tax_class.choices = [
            SelectChoice(key, str(label)) for key, label in TAX_CLASS_LABELS.items()
        ]

    def validate_country(self, field: Field) -> None:
        if field.data not in SUPPORTED_COUNTRIES:
            raise ValidationError(str(_l("Choose a country from the list.")))

    def validate_region(self, field: Field) -> None:
        field.data = field.data or ""
        if field.data and (self.country.data != "CA" or field.data not in CANADIAN_PROVINCES):
            raise ValidationError(str(_l("Provinces only apply to Canada.")))

    def validate_tax_class(self, field: Field) -> None:
        if field.data not in TaxClass.ALL:
            raise ValidationError(str(_l("Choose a tax class from the list.")))


# -- shipping methods ------------------------------------------------------------------------


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ShippingMethodForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(message=REQUIRED), Length(max=40)],
        filters=[lambda value: value.strip().lower() if isinstance(value, str) else value],
        description=_l("Lowercase letters, digits and dashes, e.g. colissimo. Kept on orders."),
    )
    kind = SelectField(_l("Pricing"), validate_choice=False)
    name_fr = StringField(
        _l("Name in French"),
        validators=[DataRequired(message=REQUIRED), Length(max=80)],
        filters=STRIP,
    )
    name_en = StringField(
        _l("Name in English"),
        validators=[DataRequired(message=REQUIRED), Length(max=80)],
        filters=STRIP,
    )
    price = MoneyField(
        _l("Price"),
        validators=[InputRequired(message=REQUIRED)],
        description=_l("As customers see it (tax included when your prices include tax)."),
    )
    free_over = MoneyField(
        _l("Free from"),
        validators=[Optional()],
        description=_l("Order amount from which delivery is free (that pricing only)."),
    )
    countries = CheckboxList(
        _l("Countries served"),
        validate_choice=False,
        description=_l("None ticked: every country we deliver to (not for a pickup)."),
    )
    tax_class = SelectField(_l("Tax class"), validate_choice=False)
    position = IntegerField(
        _l("Order in the list"), default=0, validators=[Optional(), NumberRange(min=0, max=999)]
    )
    active = BooleanField(_l("Offered at checkout"), default=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [
            SelectChoice(key, str(label)) for key, label in SHIPPING_KIND_LABELS.items()
        ]
        self.countries.choices = country_choices()
        self.tax_class.choices = [
            SelectChoice(key, str(label)) for key, label in TAX_CLASS_LABELS.items()
        ]

    def validate_code(self, field: Field) -> None:
        if field.data and not _CODE.fullmatch(field.data):
            raise ValidationError(str(_l("Use lowercase letters, digits and dashes only.")))

    def validate_kind(self, field: Field) -> None:
        if field.data not in ShippingKind.ALL:
            raise ValidationError(str(_l("Choose a pricing from the list.")))

    def validate_countries(self, field: Field) -> None:
        unknown = set(field.data or ()) - set(SUPPORTED_COUNTRIES)
        if unknown:
            raise ValidationError(str(_l("Choose countries from the list.")))

    def validate_tax_class(self, field: Field) -> None:
        if field.data not in TaxClass.ALL:
            raise ValidationError(str(_l("Choose a tax class from the list.")))


class ConfirmForm(FlaskForm):
    """A destructive action: the button sends ``confirm``; a bare POST is refused."""

    confirm = HiddenField(validators=[DataRequired(message=_l("Please confirm with the button."))])


class ToggleForm(FlaskForm):
    active = SelectField(choices=[SelectChoice("1"), SelectChoice("0")], validate_choice=True)


# -- payment and email -----------------------------------------------------------------------

_STRIPE_SECRET = re.compile(r"(sk|rk)_(test|live)_[A-Za-z0-9]{6,}")
_STRIPE_PUBLISHABLE = re.compile(r"pk_(test|live)_[A-Za-z0-9]{6,}")
_STRIPE_WEBHOOK = re.compile(r"whsec_[A-Za-z0-9+/=]{6,}")
KEEP = _l("Leave empty to keep the current value.")


def stripe_mode(key: str | None) -> str | None:
    """ "test" or "live" for a Stripe key, None for no key."""
    if not key:
        return None
    match = re.match(r"(?:sk|rk|pk)_(test|live)_", key)
    return match.group(1) if match else None


class PaymentForm(FlaskForm):
    publishable_key = StringField(
        _l("Publishable key"),
        validators=[Optional(), Length(max=255)],
        filters=STRIP,
        description=_l("Starts with pk_live_ or pk_test_. It is public: Stripe.js uses it."),
    )
    secret_key = PasswordField(
        _l("Secret key"),
        validators=[Optional(), Length(max=255)],
        filters=STRIP,
        description=KEEP,
    )
    webhook_secret = PasswordField(
        _l("Webhook signing secret"),
        validators=[Optional(), Length(max=255)],
        filters=STRIP,
        description=KEEP,
    )
    forget = BooleanField(_l("Forget the keys saved here (use the server's environment instead)"))

    def validate_publishable_key(self, field: Field) -> None:
        if field.data and not _STRIPE_PUBLISHABLE.fullmatch(field.data):
            raise ValidationError(str(_l("A publishable key starts with pk_live_ or pk_test_.")))

    def validate_secret_key(self, field: Field) -> None:
        if field.data and not _STRIPE_SECRET.fullmatch(field.data):
            raise ValidationError(
                str(_l("A secret key starts with sk_live_, sk_test_ or rk_ (restricted key)."))
            )

    def validate_webhook_secret(self, field: Field) -> None:
        if field.data and not _STRIPE_WEBHOOK.fullmatch(field.data):
            raise ValidationError(str(_l("A webhook signing secret starts with whsec_.")))


class EmailSettingsForm(FlaskForm):
    security = SelectField(_l("Encryption"), validate_choice=False)
    host = StringField(
        _l("SMTP server"),
        validators=[Optional(), Length(max=253)],
        filters=[lambda value: value.strip().lower() if isinstance(value, str) else value],
        description=_l("Leave empty to use the server's environment (SMTP_URL)."),
    )
    port = IntegerField(
        _l("Port"),
        validators=[Optional(), NumberRange(min=1, max=65535, message=_l("A port is 1 to 65535."))],
    )
    username = StringField(_l("User name"), validators=[Optional(), Length(max=254)], filters=STRIP)
    password = PasswordField(
        _l("Password"), validators=[Optional(), Length(max=512)], description=KEEP
    )
    forget_password = BooleanField(_l("Remove the saved password"))
    mail_from = StringField(
        _l("Sender (From)"),
        validators=[Optional(), Length(max=254)],
        filters=STRIP,
        description=_l("e.g. Comptoir <boutique@example.com>. Empty: the environment's MAIL_FROM."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.security.choices = [
            SelectChoice(key, str(label)) for key, label in SMTP_SECURITY_LABELS.items()
        ]

    def validate_security(self, field: Field) -> None:
        if field.data not in SCHEMES:
            raise ValidationError(str(_l("Choose an encryption from the list.")))

    def validate_host(self, field: Field) -> None:
        if field.data and not re.fullmatch(r"[a-z0-9.\-]+|\[[0-9a-f:.]+\]", field.data):
            raise ValidationError(str(_l("Enter a host name such as smtp.example.com.")))

    def validate_mail_from(self, field: Field) -> None:
        if not field.data:
            return
        _name, address = parseaddr(field.data)
        if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", address) or "\n" in field.data:
            raise ValidationError(
                str(_l("Enter an address, optionally with a name: Comptoir <shop@example.com>."))
            )


# -- bank transfer ---------------------------------------------------------------------------


class BankForm(FlaskForm):
    """Field names are the setting keys. All three empty: bank transfer is not offered."""

    bank_holder = StringField(
        _l("Account holder"),
        validators=[Optional(), Length(max=70, message=_l("At most 70 characters."))],
        filters=STRIP,
        description=_l("The name of the account, as your bank writes it."),
    )
    bank_iban = StringField(
        _l("IBAN"),
        validators=[Optional(), _normalized(bank.normalize_iban)],
        filters=STRIP,
        description=_l("e.g. FR76 3000 6000 0112 3456 7890 189."),
    )
    bank_bic = StringField(
        _l("BIC (SWIFT code)"),
        validators=[Optional(), _normalized(bank.normalize_bic)],
        filters=STRIP,
        description=_l(
            "8 or 11 characters, e.g. AGRIFRPP. Customers outside the euro area need it."
        ),
    )

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        if self.bank_iban.data and not self.bank_holder.data:
            self.bank_holder.errors.append(str(_l("Enter the account holder of this IBAN.")))
            return False
        if not self.bank_iban.data and (self.bank_holder.data or self.bank_bic.data):
            self.bank_iban.errors.append(
                str(_l("Enter the IBAN, or clear every field to stop offering bank transfer."))
            )
            return False
        return True

    def values(self) -> dict[str, str]:
        return {key: self[key].data or "" for key in bank.KEYS}


# -- abandoned carts -------------------------------------------------------------------------

BASIS_LABELS = {
    policy.CONSENT: _l("Customers who agreed (consent)"),
    policy.LEGITIMATE_INTEREST: _l("Every shopper with a known address (legitimate interest)"),
}
BASIS_HELP = {
    policy.CONSENT: _l(
        "Only customers who accepted marketing emails, and shoppers who ticked “Email me a "
        "reminder” at checkout. The safest choice."
    ),
    policy.LEGITIMATE_INTEREST: _l(
        "Anyone who left an email address, without asking them first. Each reminder says why "
        "it was sent and how to object. Make sure your privacy policy mentions it."
    ),
}


class RecoveryForm(FlaskForm):
    """Field names are the setting keys."""

    cart_recovery_delays = StringField(
        _l("Reminders (hours after the last visit)"),
        filters=STRIP,
        description=_l(
            "Up to 3 whole numbers separated by commas, in increasing order, the last one "
            "within 30 days (720 hours), e.g. 1, 24, 72. Empty: no reminders."
        ),
    )
    cart_recovery_basis = RadioField(_l("Who gets reminders"), validate_choice=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cart_recovery_basis.choices = [
            SelectChoice(key, str(label)) for key, label in BASIS_LABELS.items()
        ]

    def validate_cart_recovery_delays(self, field: Field) -> None:
        try:
            self.normalized_delays = policy.normalize_delays(field.data or "")
        except policy.InvalidDelays as error:
            raise ValidationError(str(error.message)) from error

    def validate_cart_recovery_basis(self, field: Field) -> None:
        if field.data not in policy.BASES:
            raise ValidationError(str(_l("Choose who gets reminders from the list.")))

    def values(self) -> dict[str, str]:
        return {
            policy.DELAYS_SETTING: self.normalized_delays,
            policy.BASIS_SETTING: self.cart_recovery_basis.data,
        }
