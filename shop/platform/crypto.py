"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with ``SETTINGS_ENCRYPTION_KEY``.

Used for the Stripe and SMTP secrets kept in ``platform_config`` and for staff TOTP seeds.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


class SecretUnreadable(Exception):
    """The stored value was encrypted with another key, or tampered with."""


def _fernet() -> Fernet:
    key = current_app.config["SETTINGS_ENCRYPTION_KEY"]
    try:
        return Fernet(key.encode())
    except ValueError:
        # Not a Fernet key (``Fernet.generate_key()``) but a passphrase: derive one from it.
        return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable from error


def mask(value: str | None) -> str:
    """What a page may show of a secret: its last four characters at most."""
    if not value:
        return ""
    tail = value[-4:] if len(value) >= 12 else ""
    return "••••••••" + tail
