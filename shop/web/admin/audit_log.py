"""The audit log, read-only: newest first, filtered by actor, action, entity and dates.

There is no route to edit or delete an entry (and the table refuses it anyway).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import request
from flask_babel import get_timezone
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import DateField, EmailField, IntegerField, StringField
from wtforms.validators import NumberRange, Optional

from shop.accounts import services as accounts
from shop.accounts.models import Role, User
from shop.accounts.permissions import Permission
from shop.audit import services as audit_services
from shop.extensions import db
from shop.paging import MAX_PAGE
from shop.web.admin import admin_route
from shop.web.htmx import render, wants_fragment

PER_PAGE = 50


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form

    actor = EmailField(
        _l("Staff member (email)"), validators=[Optional()], render_kw={"list": "audit-staff"}
    )
    action = StringField(
        _l("Action"), validators=[Optional()], description=_l("Start of the name, e.g. order.")
    )
    entity_type = StringField(_l("Entity type"), validators=[Optional()])
    entity_id = StringField(_l("Entity id"), validators=[Optional()])
    since = DateField(
        _l("From"), validators=[Optional()], render_kw={"type": "date"}, format="%Y-%m-%d"
    )
    until = DateField(
        _l("To"), validators=[Optional()], render_kw={"type": "date"}, format="%Y-%m-%d"
    )
    page = IntegerField(_l("Page"), validators=[Optional(), NumberRange(min=1)], default=1)

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.since.data and self.until.data and self.since.data > self.until.data:
            self.until.errors = [
                *self.until.errors,
                str(_l("The end date must be on or after the start date.")),
            ]
            valid = False
        return valid


DATE_MESSAGE = _l("Please enter a date such as 2026-01-31.")
PAGE_MESSAGE = _l("Please enter a page number of 1 or more.")


def _local_midnight(day: date) -> datetime:
    """Dates are the staff member's days (the shop's time zone), as UTC bounds."""
    zone = ZoneInfo(str(get_timezone()))  # Babel's is pytz: tzinfo= would give LMT offsets
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def _staff_emails() -> list[str]:
    return list(
        db.session.scalars(
            db.select(User.email).where(User.role != Role.CUSTOMER).order_by(User.email)
        )
    )


def display(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@admin_route("/audit", Permission.AUDIT_READ)
def audit() -> Response:
    form = AuditFilterForm(formdata=request.args)
    status = 200
    entries: list = []
    total = 0
    page = 1
    if form.validate():
        filters: dict[str, Any] = {
            "action": (form.action.data or "").strip() or None,
            "entity_type": (form.entity_type.data or "").strip() or None,
            "entity_id": (form.entity_id.data or "").strip() or None,
            "since": _local_midnight(form.since.data) if form.since.data else None,
            "until": _local_midnight(form.until.data + timedelta(days=1))
            if form.until.data
            else None,
        }
        actor_ok = True
        if actor := (form.actor.data or "").strip():
            user = accounts.find_by_email(actor)
            if user is None:
                form.actor.errors = [str(_l("No account uses this email address."))]
                status, actor_ok = 422, False
            else:
                filters["actor_id"] = user.id
        if actor_ok:
            page = min(form.page.data or 1, MAX_PAGE)
            entries, total = audit_services.entries(
                **filters, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
            )
    else:
        for field in (form.since, form.until):
            if field.data is None and field.raw_data and field.raw_data[0]:
                field.errors = [str(DATE_MESSAGE)]  # a clearer message than WTForms' own
        if form.page.errors:
            form.page.errors = [str(PAGE_MESSAGE)]
        status = 400
    pages = max(1, math.ceil(total / PER_PAGE))
    query = {k: v for k, v in request.args.items() if k != "page" and v}
    return render(
        "admin/audit/list.html",
        "admin/audit/_results.html",
        form=form,
        entries=entries,
        total=total,
        current_page=page,
        pages=pages,
        query=query,
        staff_emails=[] if wants_fragment() else _staff_emails(),
        display=display,
        status=status,
    )
