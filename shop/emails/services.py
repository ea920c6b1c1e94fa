"""Emails: rendered in the recipient's language when queued, delivered by a job after commit."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale

from shop import jobs
from shop.accounts.models import utcnow
from shop.emails import transport
from shop.emails.models import EmailMessage, EmailStatus
from shop.extensions import db


def queue_email(kind: str, to: str, locale: str, **context: Any) -> EmailMessage:
    """Render ``emails/<kind>.txt`` and ``.html`` and add the message to the session.

    The caller's transaction commits it; delivery is enqueued only after that commit.
    """
    with force_locale(locale):
        context = {"locale": locale, "shop_name": current_app.config["SHOP_NAME"], **context}
        subject = render_template(f"emails/{kind}.subject.txt", **context).strip()
        text = render_template(f"emails/{kind}.txt", **context)
        html = render_template(f"emails/{kind}.html", **context)
    domain = current_app.config["MAIL_FROM"].rsplit("@", 1)[-1].strip("> ")
    message = EmailMessage(
        kind=kind,
        to_address=to,
        locale=locale,
        subject=subject,
        text_body=text,
        html_body=html,
        message_id=make_msgid(idstring=kind, domain=domain),
    )
    db.session.add(message)
    db.session.flush()
    jobs.defer(jobs.deliver_email, message.id)
    return message


def to_mime(message: EmailMessage) -> MimeMessage:
    mime = MimeMessage()
    mime["Subject"] = message.subject
    mime["From"] = current_app.config["MAIL_FROM"]
    mime["To"] = message.to_address
    mime["Message-ID"] = message.message_id
    mime["Content-Language"] = message.locale
    mime["Date"] = message.created_at.strftime("%a, %d %b %Y %H:%M:%S +0000")
    mime.set_content(message.text_body)
    mime.add_alternative(message.html_body, subtype="html")
    return mime


def deliver(email_id: int) -> bool:
    """Send one queued email; safe to run twice (a sent message is skipped).

    The row stays locked while it is handed to SMTP, so two workers never send it twice.
    Returns whether this call sent it.
    """
    message = db.session.execute(
        db.select(EmailMessage).where(EmailMessage.id == email_id).with_for_update()
    ).scalar_one_or_none()
    if message is None or message.status == EmailStatus.SENT:
        db.session.rollback()
        return False
    message.attempts += 1
    try:
        transport.send(to_mime(message))
    except (OSError, smtplib.SMTPException) as error:
        message.last_error = f"{type(error).__name__}: {error}"[:2000]
        db.session.commit()
        raise
    message.status = EmailStatus.SENT
    message.sent_at = utcnow()
    message.last_error = None
    db.session.commit()
    return True
