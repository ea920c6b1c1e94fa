from __future__ import annotations

from flask import current_app, flash, g, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from shop.accounts import services
from shop.accounts.services import AccountError, EmailTaken, InvalidEmail, WeakPassword
from shop.extensions import limiter, login_manager
from shop.i18n import localized_route
from shop.orders import customer_queries
from shop.web.account import bp
from shop.web.account.forms import ForgotPasswordForm, LoginForm, RegisterForm, ResetPasswordForm
from shop.web.cart.cookie import merge_guest_cart
from shop.web.forms import form_status, safe_next
from shop.web.htmx import redirect_to, render
from shop.web.security import form_view

RECENT_ORDERS = 3
login_manager.login_message = _l("Please log in to see this page.")  # type: ignore[assignment]


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _reset_limit() -> str:
    return current_app.config["RESET_RATE_LIMIT"]


def _submitted_email() -> str:
    return "email:" + request.form.get("email", "").strip().lower()[:254]


@localized_route(bp, {"fr": "/compte/connexion", "en": "/account/login"}, methods=["GET", "POST"])
@form_view
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_submitted_email, scope="login-email")
def login() -> Response:
    if current_user.is_authenticated:
        return redirect_to(url_for("account.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data)
        except AccountError as error:
            form.form_errors.append(str(error.message))
        else:
            login_user(user, remember=form.remember.data)
            merge_guest_cart(user.id)
            flash(_("Welcome back!"), "success")
            return redirect_to(safe_next(request.args.get("next"), url_for("account.dashboard")))
    return render(
        "account/login.html", "account/_login_form.html", form=form, status=form_status(form)
    )


@localized_route(
    bp, {"fr": "/compte/inscription", "en": "/account/register"}, methods=["GET", "POST"]
)
@form_view
def register() -> Response:
    if current_user.is_authenticated:
        return redirect_to(url_for("account.dashboard"))
    form = RegisterForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.register(
                form.email.data,
                form.password.data,
                locale=g.get("lang", "fr"),
                marketing_consent=form.marketing_consent.data,
            )
        except InvalidEmail as error:
            form.email.errors = [str(error.message)]
        except EmailTaken as error:
            form.email.errors = [str(error.message)]
            status = 409
        except WeakPassword as error:
            form.password.errors = [str(error.message)]
        else:
            login_user(user)
            merge_guest_cart(user.id)
            flash(_("Your account has been created. Welcome!"), "success")
            return redirect_to(url_for("account.dashboard"))
    return render(
        "account/register.html",
        "account/_register_form.html",
        form=form,
        status=status if status != 200 else form_status(form),
    )


@localized_route(bp, {"fr": "/compte/deconnexion", "en": "/account/logout"}, methods=["POST"])
def logout() -> Response:
    logout_user()
    flash(_("You have been logged out."), "info")
    return redirect_to(url_for("storefront.home"))


@localized_route(
    bp,
    {"fr": "/compte/mot-de-passe-oublie", "en": "/account/forgot-password"},
    methods=["GET", "POST"],
)
@form_view
@limiter.limit(_reset_limit, methods=["POST"])
def forgot_password() -> Response:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data, locale=g.get("lang", "fr"))
        # The same answer whether or not the account exists.
        return render(
            "account/forgot_password_sent.html",
            "account/_forgot_password_sent.html",
            email=form.email.data,
        )
    return render(
        "account/forgot_password.html",
        "account/_forgot_password_form.html",
        form=form,
        status=form_status(form),
    )


@localized_route(
    bp,
    {"fr": "/compte/reinitialiser/<token>", "en": "/account/reset/<token>"},
    methods=["GET", "POST"],
)
@form_view
@limiter.limit(_login_limit, methods=["POST"])
def reset_password(token: str) -> Response:
    form = ResetPasswordForm()
    try:
        services.user_for_reset_token(token)
    except AccountError as error:
        return _invalid_reset_link(error)
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except WeakPassword as error:
            form.password.errors = [str(error.message)]
        except AccountError as error:
            return _invalid_reset_link(error)
        else:
            logout_user()
            flash(_("Your password has been changed. You can now log in."), "success")
            return redirect_to(url_for("account.login"))
    return render(
        "account/reset_password.html",
        "account/_reset_password_form.html",
        form=form,
        token=token,
        status=form_status(form),
    )


def _invalid_reset_link(error: AccountError) -> Response:
    """Expired, forged or used: say so, and offer to send a new link right there."""
    return render(
        "account/reset_password_invalid.html",
        message=error.message,
        form=ForgotPasswordForm(formdata=None),
        status=400,
    )


@localized_route(bp, {"fr": "/compte/", "en": "/account/"})
@login_required
def dashboard() -> Response:
    recent = customer_queries.orders_of(current_user.id, per_page=RECENT_ORDERS)
    response = render("account/dashboard.html", recent=recent)
    response.headers["Cache-Control"] = "private, no-store"
    return response
