"""Staff retries of emails the worker gave up on (FAILED after ``EMAIL_MAX_ATTEMPTS``).

A retry puts the message back to PENDING and enqueues its delivery after the commit; its
``attempts`` are kept, so one more SMTP failure marks it FAILED again at once.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from shop import queue
from shop.emails.models import EmailMessage, EmailStatus
from shop.extensions import db


class NotRetryable(Exception):
    message = _l("This email is no longer waiting for a retry: it was sent or retried.")


def failed_messages(*, limit: int = 50, offset: int = 0) -> tuple[list[EmailMessage], int]:
    query = db.select(EmailMessage).where(EmailMessage.status == EmailStatus.FAILED)
    total = db.session.scalar(db.select(db.func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(EmailMessage.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), total


def retry(email_id: int) -> EmailMessage:
    message = db.session.execute(
        db.select(EmailMessage)
        .where(EmailMessage.id == email_id, EmailMessage.status == EmailStatus.FAILED)
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if message is None:
        db.session.rollback()
        raise NotRetryable(email_id)
    message.status = EmailStatus.PENDING
    queue.defer("shop.jobs.deliver_email", message.id)
    db.session.commit()
    return message
