"""Two-factor pages: enrolment (QR code, secret, recovery codes) and verification.

The guard sends admin and manager (and support staff who chose to enrol) here until the
session has passed; a new login forgets it (see ``_forget_two_factor``).
"""

from __future__ import annotations

import segno
from flask import current_app, flash, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, user_logged_in, user_logged_out
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from shop.accounts import two_factor as tfa
from shop.accounts.permissions import TWO_FACTOR_ROLES
from shop.accounts.two_factor import AlreadyEnrolled, TwoFactorError, TwoFactorLocked
from shop.clock import utcnow
from shop.extensions import limiter
from shop.web.admin import (
    TWO_FACTOR_SESSION_KEY,
    admin_route,
    mark_two_factor_passed,
    two_factor_passed,
)
from shop.web.admin.auditing import audited
from shop.web.forms import form_status
from shop.web.htmx import redirect_to, render
from shop.web.security import form_view


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(message=_l("Please enter the code.")), Length(max=40)],
    )


def _limit() -> str:
    return current_app.config["TWO_FACTOR_RATE_LIMIT"]


def _per_user() -> str:
    return f"two-factor:{current_user.get_id()}"


# One budget for enrolment and verification together, per client address and per account.
two_factor_ip_limit = limiter.shared_limit(_limit, scope="two-factor", methods=["POST"])
two_factor_user_limit = limiter.shared_limit(
    _limit, scope="two-factor-user", key_func=_per_user, methods=["POST"]
)


def _next() -> str:
    """Back to the admin page that was asked for; nowhere else."""
    target = request.args.get("next", "")
    if target.startswith("/admin") and "//" not in target and "\\" not in target:
        return target
    return url_for("admin.dashboard")


def _forget_two_factor(_sender: object, **_extra: object) -> None:
    """A new login (even in the same browser) must pass two-factor again."""
    session.pop(TWO_FACTOR_SESSION_KEY, None)


user_logged_in.connect(_forget_two_factor)
user_logged_out.connect(_forget_two_factor)


def qr_code_svg(uri: str) -> Markup:
    """The otpauth URI as an inline SVG: presentation attributes only, no ``style``, so the
    strict CSP lets it through."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=4,
        dark="#000",
        light="#fff",
        omitsize=True,
        title=_("QR code to scan"),
        svgclass="totp-qr",
    )
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))  # noqa: S704  (made by segno)


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@admin_route("/two-factor", None, methods=("GET", "POST"), before_two_factor=True)
@form_view
@two_factor_ip_limit
@two_factor_user_limit
def two_factor() -> Response:
    back = _next()
    if not current_user.two_factor_enabled:
        return redirect_to(url_for("admin.two_factor_enrol", next=back))
    if request.method == "GET" and two_factor_passed():
        return render(
            "admin/two_factor/status.html",
            codes_left=tfa.recovery_codes_left(current_user.id),
            back=back,
        )
    form = CodeForm()
    status = 200
    locked = tfa.locked_until(current_user)
    if locked is None and form.validate_on_submit():
        try:
            method = tfa.verify(current_user.id, form.code.data)
        except TwoFactorLocked as error:
            locked = error.until
        except TwoFactorError as error:
            form.code.errors = [str(error.message)]
            status = 422
        else:
            mark_two_factor_passed()
            if method == "recovery":
                _recovery_code_used()
            return redirect_to(back)
    if locked is not None and request.method == "POST":
        status = 429
    response = render(
        "admin/two_factor/verify.html",
        "admin/two_factor/_verify_form.html",
        form=form,
        locked_until=locked,
        back=back,
        status=status if status != 200 else form_status(form),
    )
    if status == 429 and locked is not None:
        seconds = int((locked - utcnow()).total_seconds()) + 1
        response.headers["Retry-After"] = str(max(seconds, 1))
    return response


def _recovery_code_used() -> None:
    left = tfa.recovery_codes_left(current_user.id)
    with audited(
        "staff.recovery_code_used",
        "user",
        current_user.id,
        after={"recovery_codes_left": left},
    ):
        pass  # the code was consumed by verify(); the entry commits on its own
    if left <= 3:
        flash(
            _(
                "Recovery code accepted. You have %(count)d left: ask an administrator to "
                "reset your two-factor authentication before they run out.",
                count=left,
            ),
            "warning",
        )
    else:
        flash(_("Recovery code accepted. You have %(count)d left.", count=left), "info")


@admin_route("/two-factor/enrol", None, methods=("GET", "POST"), before_two_factor=True)
@form_view
@two_factor_ip_limit
@two_factor_user_limit
def two_factor_enrol() -> Response:
    back = _next()
    if current_user.two_factor_enabled:
        return redirect_to(url_for("admin.two_factor", next=back))
    user_id, email = current_user.id, current_user.email
    try:
        secret = tfa.pending_secret(user_id)
    except AlreadyEnrolled:  # confirmed in another tab meanwhile
        return redirect_to(url_for("admin.two_factor", next=back))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            with audited(
                "staff.two_factor_enable",
                "user",
                user_id,
                before={"two_factor": False},
                after={"two_factor": True},
            ):
                codes = tfa.confirm_enrolment(user_id, form.code.data)
        except TwoFactorError as error:
            form.code.errors = [str(error.message)]
            status = 422
        else:
            mark_two_factor_passed()
            return render("admin/two_factor/recovery_codes.html", codes=codes, back=back)
    return render(
        "admin/two_factor/enrol.html",
        form=form,
        qr_svg=qr_code_svg(tfa.provisioning_uri(secret, email)),
        secret=_grouped(secret),
        required=current_user.role in TWO_FACTOR_ROLES,
        back=back,
        status=status if status != 200 else form_status(form),
    )
