"""The staff page: who has which back-office role, with their two-factor state; granting and
changing roles by email, and resetting someone's two-factor authentication."""

from __future__ import annotations

from flask import abort, flash, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, SelectField
from wtforms.validators import DataRequired, Length

from shop.accounts import services as accounts
from shop.accounts import staff
from shop.accounts import two_factor as tfa
from shop.accounts.models import Role, User
from shop.accounts.permissions import Permission, allows
from shop.accounts.staff import StaffError
from shop.extensions import db
from shop.web.admin import admin_route
from shop.web.admin.auditing import audited
from shop.web.admin.nav import role_label
from shop.web.forms import form_status
from shop.web.htmx import redirect_to, render
from shop.web.security import form_view


class RoleForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        validators=[DataRequired(message=_l("Please enter an email address.")), Length(max=254)],
        description=_l("The person must already have an account in the shop."),
    )
    role = SelectField(
        _l("Role"),
        choices=[],
        validators=[DataRequired(message=_l("Please choose a role from the list."))],
        validate_choice=False,  # checked by the service, with its own message
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = [(role, role_label(role)) for role in reversed(Role.ORDER)]


def _page(form: RoleForm, status: int = 200) -> Response:
    return render(
        "admin/staff/list.html",
        "admin/staff/_panel.html",
        form=form,
        members=staff.staff_members(),
        two_factor_state=tfa.state,
        status=status,
    )


# The view function is not called ``staff``: that would shadow the service module.
@admin_route("/staff", Permission.STAFF, methods=("GET", "POST"), endpoint="staff")
@form_view
def staff_page() -> Response:
    form = RoleForm()
    if not form.is_submitted():
        form.role.data = Role.SUPPORT
        return _page(form)
    if not form.validate():
        return _page(form, form_status(form))
    user = accounts.find_by_email(form.email.data)
    if user is None:
        form.email.errors = [_("No account uses this email address.")]
        return _page(form, 422)
    role = form.role.data
    if user.role == role:
        flash(_("%(email)s is already %(role)s.", email=user.email, role=role_label(role)), "info")
        return redirect_to(url_for("admin.staff"))
    target_id, email = user.id, user.email
    try:
        with audited(
            "staff.role", "user", target_id, before={"role": user.role}, after={"role": role}
        ):
            staff.set_role(target_id, role)
    except StaffError as error:
        form.role.errors = [str(error.message)]
        return _page(form, 409 if isinstance(error, staff.LastAdmin) else 422)
    flash(_("%(email)s is now %(role)s.", email=email, role=role_label(role)), "success")
    if target_id == current_user.id and not allows(role, Permission.STAFF):  # stepped down
        if not allows(role, Permission.DASHBOARD):
            return redirect_to(url_for("storefront.home", lang=current_user.locale))
        return redirect_to(url_for("admin.dashboard"))
    return redirect_to(url_for("admin.staff"))


@admin_route(
    "/staff/<int:user_id>/two-factor/reset",
    Permission.STAFF,
    methods=("POST",),
    endpoint="staff_two_factor_reset",
)
def staff_two_factor_reset(user_id: int) -> Response:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    if tfa.state(user) == "off":
        flash(_("%(email)s has no two-factor authentication to reset.", email=user.email), "info")
        return redirect_to(url_for("admin.staff"))
    email = user.email
    with audited(
        "staff.two_factor_reset",
        "user",
        user_id,
        before={"two_factor": tfa.state(user)},
        after={"two_factor": "off"},
    ):
        tfa.reset(user_id)
    flash(
        _(
            "Two-factor authentication of %(email)s was reset: they will set it up again "
            "at their next visit.",
            email=email,
        ),
        "success",
    )
    return redirect_to(url_for("admin.staff"))
