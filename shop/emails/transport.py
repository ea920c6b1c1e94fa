"""Hand a message to SMTP, or write it to ``instance/outbox`` when no server is set.

The server is the one saved in the back office (``smtp_url`` without its password, and
``smtp_password`` encrypted), else ``SMTP_URL`` from the environment. URL forms:
``smtp://host:port`` (plain), ``smtp+starttls://user:pass@host:587``,
``smtps://user:pass@host:465`` (implicit TLS). The sender is ``mail_from`` or ``MAIL_FROM``.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from flask import current_app

from shop.emails.wire import Outgoing
from shop.platform.services import configured

SMTP_TIMEOUT = 10
SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
# Keys saved in the back office.
URL_KEY, PASSWORD_KEY, MAIL_FROM_KEY = "smtp_url", "smtp_password", "mail_from"


@dataclass(frozen=True)
class SmtpServer:
    scheme: str  # one of SCHEMES
    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)  # never in a log line or a traceback

    @classmethod
    def from_url(cls, url: str, password: str | None = None) -> SmtpServer:
        """``password`` (when given) wins over one written in the URL."""
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise ValueError(f"unsupported SMTP URL scheme {parts.scheme!r}")
        return cls(
            scheme=parts.scheme,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or SCHEMES[parts.scheme],
            username=unquote(parts.username or ""),
            password=password if password is not None else unquote(parts.password or ""),
        )

    def url(self) -> str:
        """The URL without the password (what is stored in clear)."""
        user = f"{quote(self.username, safe='')}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{user}{host}:{self.port}"


def server() -> SmtpServer | None:
    """The SMTP server to use now, or None (messages are then written to files)."""
    saved = configured(URL_KEY, "")
    if saved:
        return SmtpServer.from_url(saved, configured(PASSWORD_KEY, "") or "")
    url = current_app.config.get("SMTP_URL")
    return SmtpServer.from_url(url) if url else None


def mail_from() -> str:
    return configured(MAIL_FROM_KEY, "MAIL_FROM") or ""


def send(message: Outgoing) -> None:
    target = server()
    if target is None:
        write_eml(message)
        return
    with connect(target) as smtp:
        hand_over(smtp, message)


def hand_over(smtp: smtplib.SMTP, message: Outgoing) -> None:
    """MAIL FROM, RCPT TO, DATA on an open session; raises on any refusal. An
    internationalized address needs the server's SMTPUTF8 (``SMTPNotSupportedError``
    without it: a failure recorded on the message like any other)."""
    options = ("SMTPUTF8",) if message.needs_smtputf8 else ()
    smtp.sendmail(message.sender, [message.recipient], message.data, mail_options=options)


def connect(target: SmtpServer) -> smtplib.SMTP:
    """An open session: connected, greeted, encrypted as asked, logged in."""
    if target.scheme == "smtps":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            target.host, target.port, timeout=SMTP_TIMEOUT, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT)
    try:
        smtp.ehlo()
        if target.scheme == "smtp+starttls":
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if target.username:
            smtp.login(target.username, target.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def check(target: SmtpServer) -> None:
    """Connect, greet, STARTTLS and log in as configured, then quit: raises ``OSError`` or
    ``smtplib.SMTPException`` on the first step that fails."""
    with connect(target):
        pass


def write_eml(message: Outgoing) -> None:
    outbox = Path(current_app.config["MAIL_OUTBOX_DIR"])
    outbox.mkdir(parents=True, exist_ok=True)
    name = message.message_id.strip("<>").replace("@", "_at_").replace("/", "_")
    (outbox / f"{name}.eml").write_bytes(message.data)
