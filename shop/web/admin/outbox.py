"""Failed deliveries: outbox events the dispatcher gave up on (DEAD) or is still retrying
(FAILED), and emails the worker could not send; each can be sent to delivery again."""

from __future__ import annotations

import math
from typing import Any

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response

from shop.accounts.permissions import Permission
from shop.emails import retry as email_retry
from shop.emails.models import EmailMessage
from shop.extensions import db
from shop.outbox import retry as event_retry
from shop.outbox.models import OutboxEvent, OutboxStatus
from shop.paging import page_number
from shop.web.admin import admin_route
from shop.web.admin.auditing import audited
from shop.web.htmx import redirect_to, render, wants_fragment

PER_PAGE = 50
RETRY_ALL_LIMIT = 200  # per click: each retry is its own small transaction
STATUSES = (OutboxStatus.DEAD, OutboxStatus.FAILED)


def payload_summary(payload: dict[str, Any] | None, width: int = 120) -> str:
    text = ", ".join(f"{key}={value}" for key, value in sorted((payload or {}).items()))
    return text if len(text) <= width else text[: width - 1] + "…"


def _page(status: int = 200, **extra: Any) -> Response:
    shown = request.args.get("status", OutboxStatus.DEAD)
    if shown not in STATUSES:
        shown = OutboxStatus.DEAD
    page = page_number(request.args.get("page"))
    events, total = event_retry.undelivered(shown, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    emails, emails_total = email_retry.failed_messages(limit=PER_PAGE)
    return render(
        "admin/outbox/list.html",
        shown=shown,
        events=events,
        total=total,
        current_page=page,
        pages=max(1, math.ceil(total / PER_PAGE)),
        emails=emails,
        emails_total=emails_total,
        payload_summary=payload_summary,
        status=status,
        **extra,
    )


@admin_route("/outbox", Permission.OUTBOX)
def outbox() -> Response:
    return _page()


def _back() -> str:
    shown = request.form.get("shown")
    return url_for("admin.outbox", status=shown if shown in STATUSES else None)


@admin_route("/outbox/<int:event_id>/retry", Permission.OUTBOX, methods=("POST",))
def outbox_retry(event_id: int) -> Response:
    event = db.session.get(OutboxEvent, event_id)
    if event is None:
        abort(404)
    before = {"status": event.status}
    try:
        with audited(
            "outbox.retry",
            "outbox_event",
            event_id,
            before=before,
            after={"status": OutboxStatus.PENDING},
        ):
            event = event_retry.retry(event_id)
    except event_retry.NotRetryable as error:
        return _refused(str(error.message))
    if wants_fragment():
        return render(
            "admin/outbox/_event_row.html",
            event=event,
            retried=True,
            payload_summary=payload_summary,
        )
    flash(_("Event #%(id)d was sent to delivery again.", id=event_id), "success")
    return redirect_to(_back())


@admin_route("/outbox/retry-dead", Permission.OUTBOX, methods=("POST",))
def outbox_retry_dead() -> Response:
    retried = 0
    for event_id in event_retry.dead_event_ids(RETRY_ALL_LIMIT):
        try:
            with audited(
                "outbox.retry",
                "outbox_event",
                event_id,
                before={"status": OutboxStatus.DEAD},
                after={"status": OutboxStatus.PENDING},
            ):
                event_retry.retry(event_id)
        except event_retry.NotRetryable:
            continue  # retried or delivered by someone else meanwhile
        retried += 1
    if retried:
        flash(
            ngettext(
                "%(num)d event was sent to delivery again.",
                "%(num)d events were sent to delivery again.",
                retried,
            ),
            "success",
        )
    else:
        flash(_("There was no dead event to retry."), "info")
    return redirect_to(url_for("admin.outbox"))


@admin_route("/outbox/emails/<int:email_id>/retry", Permission.OUTBOX, methods=("POST",))
def outbox_email_retry(email_id: int) -> Response:
    message = db.session.get(EmailMessage, email_id)
    if message is None:
        abort(404)
    try:
        with audited(
            "email.retry",
            "email",
            email_id,
            before={"status": message.status},
            after={"status": "pending"},
        ):
            email_retry.retry(email_id)
    except email_retry.NotRetryable as error:
        return _refused(str(error.message))
    flash(_("The email #%(id)d was sent to delivery again.", id=email_id), "success")
    return redirect_to(_back())


def _refused(message: str) -> Response:
    """A retry of something no longer waiting: say so on the list, 409, nothing changed."""
    if wants_fragment():
        return render("admin/outbox/_refused.html", message=message, status=409)
    return _page(status=409, refused=message)
