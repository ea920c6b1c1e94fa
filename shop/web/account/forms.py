from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

EMAIL_RULES = [DataRequired(message=_l("Please enter your email address.")), Length(max=254)]


class LoginForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=EMAIL_RULES)
    password = PasswordField(
        _l("Password"), validators=[DataRequired(message=_l("Please enter your password."))]
    )
    remember = BooleanField(_l("Keep me signed in"))


class RegisterForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=EMAIL_RULES)
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(message=_l("Please choose a password.")), Length(max=256)],
        description=_l("At least 10 characters. A short sentence is easy to remember."),
    )
    marketing_consent = BooleanField(_l("Send me news and offers by email (optional)"))


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=EMAIL_RULES)


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(message=_l("Please choose a password.")), Length(max=256)],
        description=_l("At least 10 characters. A short sentence is easy to remember."),
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[
            DataRequired(message=_l("Please repeat the password.")),
            EqualTo("password", message=_l("The two passwords do not match.")),
        ],
    )


__all__ = ["ForgotPasswordForm", "LoginForm", "RegisterForm", "ResetPasswordForm"]
