"""The contact page: a form that mails the shop through the outbox.

The message is not sent from the request: ``shop.emails.contact`` records a
``contact_message`` outbox event, and the event's handler (``shop.handlers``) queues the
mail to the shop's address. A bot that fills the honeypot field gets the same thank-you page and
nothing is recorded; the form is rate-limited per client address like the password reset.
The mail layer has no Reply-To, so the customer's address is written in the mail's body.
"""

from __future__ import annotations

from flask import current_app, g
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from shop.accounts.services import InvalidEmail, normalize_email
from shop.emails.contact import send_contact_message
from shop.extensions import limiter
from shop.i18n import localized_route
from shop.web.forms import form_status
from shop.web.htmx import render
from shop.web.security import form_view
from shop.web.storefront import bp

DEFAULT_RATE_LIMIT = "3 per minute;10 per hour"
HONEYPOT = "website"


def _contact_limit() -> str:
    return current_app.config.get("CONTACT_RATE_LIMIT", DEFAULT_RATE_LIMIT)


def _valid_email(form: FlaskForm, field: EmailField) -> None:
    try:
        field.data = normalize_email(field.data or "")
    except InvalidEmail as error:
        message = _l("Please enter a valid email address, e.g. name@example.com.")
        raise ValidationError(message) from error


class ContactForm(FlaskForm):
    name = StringField(
        _l("Your name"),
        validators=[DataRequired(message=_l("Please enter your name.")), Length(max=120)],
    )
    email = EmailField(
        _l("Your email address"),
        validators=[
            DataRequired(message=_l("Please enter your email address.")),
            Length(max=254),
            _valid_email,
        ],
        description=_l("We answer at this address."),
    )
    subject = StringField(
        _l("Subject"),
        validators=[DataRequired(message=_l("Please enter a subject.")), Length(max=150)],
    )
    message = TextAreaField(
        _l("Message"),
        validators=[
            DataRequired(message=_l("Please write your message.")),
            Length(max=5000, message=_l("Your message is too long (5,000 characters at most).")),
        ],
    )
    # The honeypot: hidden from people (and from screen readers), filled by bots.
    website = StringField(_l("Leave this field empty"))


@localized_route(bp, {"fr": "/contact", "en": "/contact"}, methods=["GET", "POST"])
@form_view
@limiter.limit(_contact_limit, methods=["POST"])
def contact() -> Response:
    form = ContactForm()
    if form.validate_on_submit():
        if not (form.website.data or "").strip():  # the trap is empty: not a bot
            send_contact_message(
                name=form.name.data,
                email=form.email.data,
                subject=form.subject.data,
                message=form.message.data,
                locale=g.get("lang", "fr"),
            )
        return render("storefront/contact.html", "storefront/_contact_sent.html", sent=True)
    return render(
        "storefront/contact.html",
        "storefront/_contact_form.html",
        form=form,
        status=form_status(form),
    )
