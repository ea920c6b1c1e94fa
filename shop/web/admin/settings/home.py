"""The home page's hero: its title, line, button label and button address in each
language. Saved as ``platform_config`` rows (``shop.platform.hero``), audited; a save
renews the storefront's cached pages."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, ValidationError

from shop.accounts.permissions import Permission
from shop.config import LOCALES
from shop.i18n import LANG_NAMES
from shop.platform import hero
from shop.platform.legal import InvalidIdentifier
from shop.web.admin import admin_route
from shop.web.admin.settings.checkout_options import _save
from shop.web.admin.settings.store import NOTHING_CHANGED, SAVED, saved_response
from shop.web.forms import form_status
from shop.web.htmx import render
from shop.web.security import form_view

PAGE = "admin/settings/home.html"
FORM = "admin/settings/_home_form.html"

LABELS = {
    "title": _l("Title"),
    "subtitle": _l("Line under the title"),
    "button": _l("Button label"),
    "link": _l("Button address"),
}
HELP = {
    "title": _l("Empty: “Welcome to” and the shop's name."),
    "link": _l("A page of the shop, e.g. /fr/categories/chaises. Empty: the search page."),
}


def _link_check(form: FlaskForm, field: StringField) -> None:
    try:
        field.data = hero.normalize_link(field.data or "")
    except InvalidIdentifier as error:
        raise ValidationError(str(error.message)) from error


def _make_form() -> type[FlaskForm]:
    fields: dict[str, Any] = {}
    for lang in LOCALES:
        for name in hero.FIELDS:
            validators: list[Any] = [Length(max=hero.MAX_LENGTH[name])]
            if name == "link":
                validators.append(_link_check)
            kind = TextAreaField if name == "subtitle" else StringField
            fields[hero.key(name, lang)] = kind(
                LABELS[name],
                validators=validators,
                filters=[lambda value: (value or "").strip()],
                description=HELP.get(name, ""),
            )
    return type("HeroForm", (FlaskForm,), fields)


HeroForm = _make_form()


def _groups(form: FlaskForm) -> list[tuple[str, str, list[Any]]]:
    """(language code, language name, its fields) for the template."""
    return [
        (lang, LANG_NAMES[lang], [form[hero.key(name, lang)] for name in hero.FIELDS])
        for lang in LOCALES
    ]


@admin_route("/settings/home", Permission.SETTINGS, methods=("GET", "POST"))
@form_view
def settings_home() -> Response:
    current = hero.saved()
    if request.method == "GET":
        form = HeroForm(data=current)
        return render(PAGE, FORM, form=form, groups=_groups(form))
    form = HeroForm()
    if not form.validate_on_submit():
        return render(PAGE, FORM, form=form, groups=_groups(form), status=form_status(form))
    values = {name: form[name].data or "" for name in hero.KEYS}
    changed = _save("home", current, values)  # renews the cached pages too
    return saved_response(
        PAGE, FORM, SAVED if changed else NOTHING_CHANGED, form=form, groups=_groups(form)
    )
