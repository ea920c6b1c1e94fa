"""Sending the queued emails in one go, over a few SMTP sessions kept open for the batch.

``deliver_pending`` walks the messages queued and never tried (oldest first) and deals them
to ``senders()`` threads, each with its own SMTP session and database session; all the
messages of one recipient go to the same sender, in order. Each message goes through
``services.deliver``: row lock (``SKIP LOCKED``: a message another sender or worker holds
is left to it), send, SENT committed, one message at a time per sender. So a crash loses
at most the messages in flight, one per sender (sent, not yet recorded: sent again later
under the same Message-ID), and batches running at once share the work instead of
queueing on each other's rows.

Messages that were tried and failed are not taken here: they wait for their backoff, then
``services.retry_due`` (the periodic sweep) sends them one by one. When the server cannot
be reached at all, the batch stops after recording the failure on its first message; the
rest wait for the sweep too.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from flask import current_app

from shop import sql
from shop.emails import services, transport
from shop.emails.models import EmailMessage, EmailStatus
from shop.emails.wire import Outgoing
from shop.extensions import db

log = logging.getLogger("shop.emails")

PAGE = 200  # ids read per query
DEFAULT_SENDERS = 4


class SmtpSession:
    """The batch's connection: opened on the first message, kept open, reopened after a
    failure that may have broken it. Without a server, messages are written to files."""

    def __init__(self) -> None:
        self.target = transport.server()
        self.smtp: smtplib.SMTP | None = None
        self.unreachable = False

    def send(self, message: Outgoing) -> None:
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
            transport.hand_over(self.smtp, message)
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


class _Feed:
    """The messages to send, read a page at a time in id order and dealt to the senders by
    recipient (a recipient's messages all go to one sender, so they arrive in the order they
    were queued). ``next(sender)`` is None once that sender has nothing left, the time is
    up or the server is unreachable."""

    def __init__(self, deadline: float, senders: int) -> None:
        self.deadline = deadline
        self.out_of_time = False
        self.unreachable = False
        self._lock = threading.Lock()
        self._dealt: list[deque[int]] = [deque() for _ in range(senders)]
        self._last = 0
        self._exhausted = False

    def next(self, sender: int) -> int | None:
        with self._lock:
            if self.unreachable:
                return None
            if time.monotonic() > self.deadline:
                self.out_of_time = True
                return None
            mine = self._dealt[sender]
            while not mine and not self._exhausted:
                self._read_page()
            return mine.popleft() if mine else None

    def _read_page(self) -> None:
        rows = db.session.execute(
            db.select(EmailMessage.id, EmailMessage.to_address)
            .where(
                EmailMessage.status == EmailStatus.PENDING,
                EmailMessage.attempts == 0,
                EmailMessage.id > self._last,
                services.ready_to_send(),
            )
            .order_by(EmailMessage.id)
            .limit(PAGE)
        ).all()
        db.session.rollback()
        if not rows:
            self._exhausted = True
            return
        self._last = rows[-1].id
        for row in rows:
            recipient = row.to_address.strip().lower().encode()
            self._dealt[zlib.crc32(recipient) % len(self._dealt)].append(row.id)


def _send_from(feed: _Feed, sender: int) -> int:
    """One sender: its own SMTP session, sending what the feed deals it."""
    session = SmtpSession()
    db.session.rollback()  # the settings read for the session: hold no lock while sending
    sent = 0
    try:
        while (email_id := feed.next(sender)) is not None:
            try:
                sent += services.deliver(email_id, send=session.send, skip_locked=True)
            except (OSError, smtplib.SMTPException) as error:
                log.warning("email not sent", extra={"email": email_id, "error": str(error)})
                if session.unreachable:
                    feed.unreachable = True
    finally:
        session.close()
    return sent


def senders() -> int:
    """How many SMTP sessions a batch keeps open at once (``EMAIL_SENDERS``, default 4): the
    sessions wait on the server and the database in turn, not on each other. One for the
    embedded default (SQLite, files instead of SMTP)."""
    if not sql.is_postgresql() or transport.server() is None:
        return 1
    return max(1, int(current_app.config.get("EMAIL_SENDERS", DEFAULT_SENDERS)))


def deliver_pending(seconds: float = 60.0) -> tuple[int, bool]:
    """Send the messages queued and never tried. Returns how many this call sent, and
    whether it stopped for lack of time (more may be waiting: the caller hands over)."""
    count = senders()
    db.session.rollback()  # the settings just read: no lock held while the senders work
    feed = _Feed(time.monotonic() + seconds, count)
    if count == 1:
        return _send_from(feed, 0), feed.out_of_time
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def sender(index: int) -> int:
        with app.app_context():
            try:
                return _send_from(feed, index)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="comptoir-smtp") as pool:
        results = [pool.submit(sender, index) for index in range(count)]
    return sum(result.result() for result in results), feed.out_of_time
