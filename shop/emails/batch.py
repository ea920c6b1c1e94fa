"""Sending the queued emails in one go: one SMTP session for the whole batch.

``deliver_pending`` walks the messages queued and never tried (oldest first) and sends each
with ``services.deliver``: row lock (``SKIP LOCKED``: a message another worker is sending
is left to it), send, SENT committed, one message at a time. So a crash loses at most the
message in flight (sent, not yet recorded: sent again later under the same Message-ID), and
two batches running at once share the work instead of queueing on each other's rows.

Messages that were tried and failed are not taken here: they wait for their backoff, then
``services.retry_due`` (the periodic sweep) sends them one by one. When the server cannot
be reached at all, the batch stops after recording the failure on its first message; the
rest wait for the sweep too.
"""

from __future__ import annotations

import logging
import smtplib
import time
from email.message import EmailMessage as MimeMessage

from shop.emails import services, transport
from shop.emails.models import EmailMessage, EmailStatus
from shop.extensions import db

log = logging.getLogger("shop.emails")

PAGE = 200  # ids read per query


class SmtpSession:
    """The batch's connection: opened on the first message, kept open, reopened after a
    failure that may have broken it. Without a server, messages are written to files."""

    def __init__(self) -> None:
        self.target = transport.server()
        self.smtp: smtplib.SMTP | None = None
        self.unreachable = False

    def send(self, message: MimeMessage) -> None:
        if self.target is None:
            transport.send(message)
            return
        if self.smtp is None:
            try:
                self.smtp = transport.connect(self.target)
            except (OSError, smtplib.SMTPException):
                self.unreachable = True
                raise
        try:
            self.smtp.send_message(message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError):
            raise  # this message was refused; smtplib has reset the session for the next one
        except (OSError, smtplib.SMTPException):
            self.close()
            raise

    def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def _fresh_ids(after: int) -> list[int]:
    ids = (
        db.session.execute(
            db.select(EmailMessage.id)
            .where(
                EmailMessage.status == EmailStatus.PENDING,
                EmailMessage.attempts == 0,
                EmailMessage.id > after,
            )
            .order_by(EmailMessage.id)
            .limit(PAGE)
        )
        .scalars()
        .all()
    )
    db.session.rollback()
    return list(ids)


def deliver_pending(seconds: float = 60.0) -> tuple[int, bool]:
    """Send the messages queued and never tried. Returns how many this call sent, and
    whether it stopped for lack of time (more may be waiting: the caller hands over)."""
    session = SmtpSession()
    deadline = time.monotonic() + seconds
    sent, last = 0, 0
    try:
        while ids := _fresh_ids(after=last):
            for email_id in ids:
                if time.monotonic() > deadline:
                    return sent, True
                last = email_id
                try:
                    sent += services.deliver(email_id, send=session.send, skip_locked=True)
                except (OSError, smtplib.SMTPException) as error:
                    log.warning("email not sent", extra={"email": email_id, "error": str(error)})
                    if session.unreachable:
                        return sent, False
    finally:
        session.close()
    return sent, False
