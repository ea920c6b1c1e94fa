"""Settings kept in ``platform_config``: the store's legal identity, Stripe and SMTP.

Secrets (the Stripe secret key, the webhook secret, the SMTP password) are encrypted at
rest, never sent back to the browser (an empty password input means "keep"), shown masked,
and recorded in the audit log as changed without their value.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from typing import Any

from flask import current_app, flash, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from shop import page_cache
from shop.accounts.permissions import Permission
from shop.checkout import settings as checkout_settings
from shop.emails import transport
from shop.payments import stripe_gateway
from shop.platform import bank, crypto
from shop.platform import services as platform
from shop.recovery import policy
from shop.web.admin import admin_route
from shop.web.admin.auditing import audited
from shop.web.admin.settings.forms import (
    IDENTITY_FIELDS,
    EmailSettingsForm,
    IdentityForm,
    PaymentForm,
    stripe_mode,
)
from shop.web.forms import form_status
from shop.web.htmx import redirect_to, render, wants_fragment
from shop.web.security import form_view

log = logging.getLogger("shop.admin.settings")

STRIPE_KEYS = {
    "publishable_key": stripe_gateway.PUBLISHABLE_KEY,
    "secret_key": stripe_gateway.SECRET_KEY,
    "webhook_secret": stripe_gateway.WEBHOOK_SECRET,
}
STRIPE_SECRETS = frozenset({stripe_gateway.SECRET_KEY, stripe_gateway.WEBHOOK_SECRET})
STRIPE_ENV = {
    stripe_gateway.PUBLISHABLE_KEY: "STRIPE_PUBLISHABLE_KEY",
    stripe_gateway.SECRET_KEY: "STRIPE_SECRET_KEY",
    stripe_gateway.WEBHOOK_SECRET: "STRIPE_WEBHOOK_SECRET",
}
EMAIL_KEYS = (transport.URL_KEY, transport.PASSWORD_KEY, transport.MAIL_FROM_KEY)
EMAIL_SECRETS = frozenset({transport.PASSWORD_KEY})
NOTHING_CHANGED = _l("Nothing changed.")
SAVED = _l("Settings saved.")


def saved_response(page: str, fragment: str, message: Any, **context: Any) -> Response:
    """After a save: HTMX gets the fragment again with a notice, a plain form a redirect."""
    if wants_fragment():
        return render(page, fragment, notice=str(message), **context)
    flash(str(message), "success")
    return redirect_to(request.path)


def _secret_change(before: dict[str, Any], after: dict[str, Any], key: str, had: bool) -> None:
    """Audit snapshots for a secret being set: different markers, both redacted in the log."""
    before[key] = "previous" if had else None
    after[key] = "new"


# -- overview --------------------------------------------------------------------------------


@admin_route("/settings", Permission.SETTINGS)
def settings() -> Response:
    saved = platform.stored([*IDENTITY_FIELDS, *STRIPE_KEYS.values(), *EMAIL_KEYS])
    try:
        smtp = transport.server()
    except ValueError:  # an SMTP_URL with an unknown scheme: shown as no server
        smtp = None
    return render(
        "admin/settings/index.html",
        identity_missing=[k for k in ("legal_name", "legal_address") if not saved.get(k)],
        tax_rates=checkout_settings.count_tax_rates(),
        shipping=checkout_settings.shipping_methods(),
        stripe_enabled=stripe_gateway.enabled(),
        stripe_mode=stripe_mode(stripe_gateway.secret_key()),
        stripe_saved=any(key in saved for key in STRIPE_KEYS.values()),
        smtp=smtp,
        smtp_saved=transport.URL_KEY in saved,
        bank=bank.bank_details(),
        recovery_delays=policy.delays_text(policy.delays()),
        recovery_basis=policy.basis(),
    )


# -- store identity --------------------------------------------------------------------------


def _identity() -> dict[str, str]:
    saved = platform.stored(IDENTITY_FIELDS)
    return {key: saved.get(key, "") for key in IDENTITY_FIELDS}


@admin_route("/settings/identity", Permission.SETTINGS, methods=("GET", "POST"))
@form_view
def settings_identity() -> Response:
    current = _identity()
    if request.method == "POST":
        form = IdentityForm()
    else:
        capital = current["share_capital"]
        form = IdentityForm(data={**current, "share_capital": int(capital) if capital else None})
    if form.validate_on_submit():
        values = form.values()
        changed = {key: value for key, value in values.items() if value != current[key]}
        if not changed:
            return saved_response(
                "admin/settings/identity.html",
                "admin/settings/_identity_form.html",
                NOTHING_CHANGED,
                form=form,
            )
        with audited(
            "settings.update",
            "settings",
            "identity",
            before={key: current[key] for key in changed},
            after=changed,
        ):
            platform.update_settings(
                {key: value for key, value in changed.items() if value},
                remove=[key for key, value in changed.items() if not value],
            )
        page_cache.catalogue_changed()  # the storefront's footer shows the legal mentions
        return saved_response(
            "admin/settings/identity.html",
            "admin/settings/_identity_form.html",
            SAVED,
            form=form,
        )
    return render(
        "admin/settings/identity.html",
        "admin/settings/_identity_form.html",
        form=form,
        status=form_status(form),
    )


# -- payment (Stripe) ------------------------------------------------------------------------


def _stripe_status() -> list[dict[str, Any]]:
    """Each key: where it comes from (saved here, the environment, nowhere) and its mask."""
    saved = platform.stored(STRIPE_KEYS.values())
    rows = []
    for field, key in STRIPE_KEYS.items():
        value = saved.get(key) or current_app.config.get(STRIPE_ENV[key]) or ""
        rows.append(
            {
                "field": field,
                "key": key,
                "source": "saved" if key in saved else ("environment" if value else "none"),
                "shown": value if key not in STRIPE_SECRETS else crypto.mask(value),
            }
        )
    return rows


def _payment_page(form: PaymentForm, *, status: int = 200, notice: str | None = None) -> Response:
    return render(
        "admin/settings/payment.html",
        "admin/settings/_payment_form.html",
        form=form,
        keys=_stripe_status(),
        status=status,
        notice=notice,
    )


@admin_route("/settings/payment", Permission.SETTINGS, methods=("GET", "POST"))
@form_view
def settings_payment() -> Response:
    saved = platform.stored(STRIPE_KEYS.values())
    if request.method == "GET":
        return _payment_page(
            PaymentForm(data={"publishable_key": saved.get(stripe_gateway.PUBLISHABLE_KEY, "")})
        )
    form = PaymentForm()
    if not form.validate_on_submit():
        return _payment_page(form, status=form_status(form))
    if form.forget.data:
        present = [key for key in STRIPE_KEYS.values() if key in saved]
        if present:
            with audited(
                "settings.update",
                "settings",
                "payment",
                before={key: "saved" for key in present},
                after={key: None for key in present},
            ):
                platform.update_settings({}, remove=present)
            page_cache.catalogue_changed()  # the footer names the payment methods
        return saved_response(
            "admin/settings/payment.html",
            "admin/settings/_payment_form.html",
            SAVED if present else NOTHING_CHANGED,
            form=PaymentForm(formdata=None),
            keys=_stripe_status(),
        )
    typed = {STRIPE_KEYS[name]: form[name].data for name in STRIPE_KEYS if form[name].data}
    if not typed:
        form.form_errors.append(_("Enter a key to save, or tick the box to forget the saved keys."))
        return _payment_page(form, status=422)
    secret = typed.get(stripe_gateway.SECRET_KEY) or stripe_gateway.secret_key()
    publishable = typed.get(stripe_gateway.PUBLISHABLE_KEY) or stripe_gateway.publishable_key()
    if secret and publishable and stripe_mode(secret) != stripe_mode(publishable):
        form.publishable_key.errors.append(
            _("The secret key and the publishable key must both be test keys or both live keys.")
        )
        return _payment_page(form, status=422)
    changed = {key: value for key, value in typed.items() if saved.get(key) != value}
    if not changed:
        return _payment_page(form, notice=str(NOTHING_CHANGED))
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key, value in changed.items():
        if key in STRIPE_SECRETS:
            _secret_change(before, after, key, key in saved)
        else:
            before[key], after[key] = saved.get(key), value
    with audited(
        "settings.update",
        "settings",
        "payment",
        before=before,
        after=after,
        secret_fields=STRIPE_SECRETS,
    ):
        platform.update_settings(
            {key: value for key, value in changed.items() if key not in STRIPE_SECRETS},
            secrets={key: value for key, value in changed.items() if key in STRIPE_SECRETS},
        )
    page_cache.catalogue_changed()  # the footer names the payment methods
    return saved_response(
        "admin/settings/payment.html",
        "admin/settings/_payment_form.html",
        SAVED,
        form=PaymentForm(formdata=None, data={"publishable_key": publishable or ""}),
        keys=_stripe_status(),
    )


# -- email (SMTP) ----------------------------------------------------------------------------


def _email_data(saved: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {"security": "smtp+starttls", "mail_from": saved.get("mail_from", "")}
    if url := saved.get(transport.URL_KEY):
        server = transport.SmtpServer.from_url(url)
        data.update(
            security=server.scheme, host=server.host, port=server.port, username=server.username
        )
    return data


def _email_page(
    form: EmailSettingsForm,
    *,
    status: int = 200,
    notice: str | None = None,
    test_result: dict[str, Any] | None = None,
) -> Response:
    saved = platform.stored(EMAIL_KEYS)
    return render(
        "admin/settings/email.html",
        "admin/settings/_email_form.html",
        form=form,
        status=status,
        notice=notice,
        test_result=test_result,
        **_email_context(saved),
    )


def _email_context(saved: dict[str, str]) -> dict[str, Any]:
    return {
        "smtp_saved": transport.URL_KEY in saved,
        "password_saved": crypto.mask(saved.get(transport.PASSWORD_KEY)),
        "env_server": _environment_server(),
        "env_mail_from": current_app.config.get("MAIL_FROM", ""),
    }


def _environment_server() -> transport.SmtpServer | None:
    url = current_app.config.get("SMTP_URL")
    try:
        return transport.SmtpServer.from_url(url) if url else None
    except ValueError:  # an unknown scheme: sending fails loudly, this page does not
        return None


def _server_from(form: EmailSettingsForm, saved: dict[str, str]) -> transport.SmtpServer | None:
    if not form.host.data:
        return None
    scheme = form.security.data
    password = form.password.data or (
        "" if form.forget_password.data else saved.get(transport.PASSWORD_KEY, "")
    )
    return transport.SmtpServer(
        scheme=scheme,
        host=form.host.data,
        port=form.port.data or transport.SCHEMES[scheme],
        username=form.username.data or "",
        password=password,
    )


def _check_email_form(form: EmailSettingsForm) -> bool:
    if not form.validate_on_submit():
        return False
    if not form.host.data and (form.username.data or form.password.data or form.port.data):
        form.host.errors.append(_("Enter the SMTP server, or clear the other server fields."))
        return False
    return True


@admin_route("/settings/email", Permission.SETTINGS, methods=("GET", "POST"))
@form_view
def settings_email() -> Response:
    saved = platform.stored(EMAIL_KEYS)
    if request.method == "GET":
        return _email_page(EmailSettingsForm(data=_email_data(saved)))
    form = EmailSettingsForm()
    if not _check_email_form(form):
        return _email_page(form, status=form_status(form))
    server = _server_from(form, saved)
    plain: dict[str, str] = {}
    if server is not None:
        plain[transport.URL_KEY] = server.url()
    if form.mail_from.data:
        plain[transport.MAIL_FROM_KEY] = form.mail_from.data
    secrets: dict[str, str] = {}
    remove: list[str] = []
    if server is None:
        remove += [transport.URL_KEY, transport.PASSWORD_KEY]
    elif form.password.data:
        secrets[transport.PASSWORD_KEY] = form.password.data
    elif form.forget_password.data:
        remove.append(transport.PASSWORD_KEY)
    if not form.mail_from.data:
        remove.append(transport.MAIL_FROM_KEY)
    remove = [key for key in remove if key in saved]
    plain = {key: value for key, value in plain.items() if saved.get(key) != value}
    secrets = {key: v for key, v in secrets.items() if saved.get(key) != v}
    if not (plain or secrets or remove):
        return _email_page(form, notice=str(NOTHING_CHANGED))
    before: dict[str, Any] = {key: saved.get(key) for key in plain}
    after: dict[str, Any] = dict(plain)
    for key in remove:
        before[key], after[key] = ("saved" if key in EMAIL_SECRETS else saved[key]), None
    for key in secrets:
        _secret_change(before, after, key, key in saved)
    with audited(
        "settings.update",
        "settings",
        "email",
        before=before,
        after=after,
        secret_fields=frozenset(secrets),
    ):
        platform.update_settings(plain, secrets=secrets, remove=remove)
    fresh = platform.stored(EMAIL_KEYS)
    return saved_response(
        "admin/settings/email.html",
        "admin/settings/_email_form.html",
        SAVED,
        form=EmailSettingsForm(formdata=None, data=_email_data(fresh)),
        test_result=None,
        **_email_context(fresh),
    )


def _failure(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return _("the server refused the user name or password.")
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return _("the server does not offer STARTTLS: choose another encryption.")
    if isinstance(error, ssl.SSLError):
        return _(
            "the encrypted connection could not be established (check the encryption and port)."
        )
    if isinstance(error, socket.gaierror):
        return _("this server name cannot be found.")
    if isinstance(error, TimeoutError | socket.timeout):
        return _("the server did not answer in time.")
    if isinstance(error, ConnectionRefusedError):
        return _("the connection was refused (check the port).")
    if isinstance(error, smtplib.SMTPException):
        return _("the server answered with an error.")
    return _("the server could not be reached.")


@admin_route("/settings/email/test", Permission.SETTINGS, methods=("POST",))
@form_view
def settings_email_test() -> Response:
    """Connect, greet, STARTTLS and log in with what the form holds (the saved password when
    the field is empty), then quit. Nothing is saved and no message is sent."""
    saved = platform.stored(EMAIL_KEYS)
    form = EmailSettingsForm()
    if not _check_email_form(form):
        return _email_page(form, status=form_status(form))
    server = _server_from(form, saved) or _environment_server()
    if server is None:
        return _email_page(
            form,
            test_result={
                "ok": False,
                "message": _("No SMTP server is set: emails are written to files instead."),
            },
        )
    where = f"{server.host}:{server.port}"
    try:
        transport.check(server)
    except (OSError, smtplib.SMTPException) as error:
        log.info(
            "smtp connection test failed",
            extra={"host": where, "error_type": type(error).__name__},
        )
        result = {
            "ok": False,
            "message": _(
                "Connection to %(server)s failed: %(reason)s", server=where, reason=_failure(error)
            ),
        }
    else:
        log.info("smtp connection test succeeded", extra={"host": where})
        result = {"ok": True, "message": _("Connection to %(server)s succeeded.", server=where)}
    return _email_page(form, test_result=result)
