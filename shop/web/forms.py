"""What every blueprint's forms share: the status a re-rendered form answers with, the
message for a stale CSRF token, and the same-site check on a ``next`` address."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

CSRF_FORM_MESSAGE = _l("Your session has expired. Please check the form and send it again.")


def form_status(form: FlaskForm) -> int:
    """200 for a first display; 400 for a missing or stale CSRF token; 422 otherwise."""
    if not form.is_submitted():
        return 200
    if form.errors.get("csrf_token"):
        form.csrf_token.errors = []
        form.form_errors.append(str(CSRF_FORM_MESSAGE))
        return 400
    return 422


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths: no scheme, no host, no protocol-relative ``//``."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default
