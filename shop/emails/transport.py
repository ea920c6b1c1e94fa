"""Hand a message to SMTP (``SMTP_URL``), or write it to ``instance/outbox`` when unset.

``SMTP_URL`` forms: ``smtp://host:port`` (plain), ``smtp+starttls://user:pass@host:587``,
``smtps://user:pass@host:465`` (implicit TLS).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app

SMTP_TIMEOUT = 10


def send(message: EmailMessage) -> None:
    url = current_app.config.get("SMTP_URL")
    if not url:
        _write_eml(message)
        return
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    if parts.scheme == "smtps":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            host, parts.port or 465, timeout=SMTP_TIMEOUT, context=ssl.create_default_context()
        )
    elif parts.scheme in ("smtp", "smtp+starttls"):
        smtp = smtplib.SMTP(host, parts.port or 25, timeout=SMTP_TIMEOUT)
    else:
        raise ValueError(f"unsupported SMTP_URL scheme {parts.scheme!r}")
    with smtp:
        if parts.scheme == "smtp+starttls":
            smtp.starttls(context=ssl.create_default_context())
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(message)


def _write_eml(message: EmailMessage) -> None:
    outbox = Path(current_app.config["MAIL_OUTBOX_DIR"])
    outbox.mkdir(parents=True, exist_ok=True)
    name = message["Message-ID"].strip("<>").replace("@", "_at_").replace("/", "_")
    (outbox / f"{name}.eml").write_bytes(bytes(message))
