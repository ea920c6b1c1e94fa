"""Statistics: KPIs for a period compared with the one before, with SVG charts and tables."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from babel import Locale
from flask import Response, current_app, request
from flask_babel import format_decimal, get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from shop.accounts.permissions import Permission
from shop.reports import charts, kpis
from shop.web.admin import admin_route
from shop.web.htmx import render

PRESET_LABELS = {
    "7d": _l("Last 7 days"),
    "30d": _l("Last 30 days"),
    "90d": _l("Last 90 days"),
    "month": _l("This month"),
    "custom": _l("Custom dates"),
}
DATE_MESSAGE = _l("Please enter a date such as 2026-03-31.")


EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)  # room for the previous period


def _parse_date(text: str | None) -> date | None:
    try:
        day = date.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return day if EARLIEST <= day <= LATEST else None


class PeriodForm(FlaskForm):
    """Read from the query string (a GET form: bookmarkable, no CSRF needed)."""

    preset = SelectField(
        _l("Period"),
        choices=[SelectChoice(value, label) for value, label in PRESET_LABELS.items()],
        default="30d",
        validate_choice=False,
    )
    start = StringField(_l("From"), description=_l("For custom dates, e.g. 2026-11-01."))
    end = StringField(_l("To"), description=_l("Included, e.g. 2026-11-30."))

    def validate_preset(self, field: SelectField) -> None:
        if field.data not in PRESET_LABELS:
            raise ValidationError(_l("Please choose a period from the list."))

    def validate_start(self, field: StringField) -> None:
        if self.preset.data == "custom" and _parse_date(field.data) is None:
            raise ValidationError(DATE_MESSAGE)

    def validate_end(self, field: StringField) -> None:
        if self.preset.data != "custom":
            return
        end, start = _parse_date(field.data), _parse_date(self.start.data)
        if end is None:
            raise ValidationError(DATE_MESSAGE)
        if start is not None and end < start:
            raise ValidationError(_l("The last day must be the first day or come after it."))
        if start is not None and (end - start).days + 1 > kpis.MAX_DAYS:
            raise ValidationError(_l("Please choose at most %(days)d days.", days=kpis.MAX_DAYS))

    def period(self, today: date) -> kpis.Period:
        if self.preset.data == "custom":
            return kpis.Period(_parse_date(self.start.data), _parse_date(self.end.data))  # type: ignore[arg-type]
        return kpis.preset_period(self.preset.data, today)


def _percent_spacer() -> str:
    """French writes « 12,5 % » (no-break space), English "12.5%"."""
    locale = get_locale() or Locale.parse("fr")
    return "\u00a0" if "\u00a0%" in locale.percent_formats[None].pattern else ""


def percent_change(value: float | None) -> str:
    """+12,5 % / -3.0%: the change with its sign and one decimal; empty without a base."""
    if value is None:
        return ""
    sign = "+" if value > 0 else ("-" if value < 0 else "±")
    return f"{sign}{format_decimal(abs(value), '#,##0.0')}{_percent_spacer()}%"


def percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{format_decimal(value, '#,##0.0')}{_percent_spacer()}%"


def trend(value: float | None) -> str:
    if value is None:
        return "flat"
    return "up" if value > 0 else ("down" if value < 0 else "flat")


@admin_route("/kpis", Permission.KPIS, endpoint="kpis")
def kpis_page() -> Response:
    form = PeriodForm(formdata=request.args, meta={"csrf": False})
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    report = None
    status = 200
    if form.validate():
        report = kpis.report(form.period(kpis.today_in(zone)), zone)
    else:
        status = 422
    revenue_chart = top_chart = None
    if report is not None:
        revenue_chart = charts.line_chart(
            [[d.previous_revenue for d in report.days], [d.revenue for d in report.days]],
            [d.day for d in report.days],
        )
        top_chart = charts.bar_chart(
            report.top,
            [p.revenue for p in report.top],
            [p.previous_revenue for p in report.top],
        )
    return render(
        "admin/kpis/page.html",
        "admin/kpis/_report.html",
        form=form,
        report=report,
        revenue_chart=revenue_chart,
        top_chart=top_chart,
        percent_change=percent_change,
        percent=percent,
        trend=trend,
        kpi_delta=kpis.delta,
        status=status,
    )
