"""TOTP two-factor authentication for staff: enrolment, verification, recovery codes, reset.

The secret is stored Fernet-encrypted (``shop.platform.crypto``) and leaves the server once,
on the enrolment page; it is never logged. A code is accepted for the previous, current or
next 30-second step (``VALID_WINDOW``), and a step once used cannot be used again: the
``UPDATE ... WHERE totp_last_step < :step`` that records it succeeds for one request only.
Recovery codes are random (about 80 bits), shown once and stored as salted SHA-256 hashes;
each is consumed by a conditional ``UPDATE``. After ``TWO_FACTOR_MAX_FAILURES`` wrong codes
in a row, verification is locked for ``TWO_FACTOR_LOCK_MINUTES``.

Services take user ids and plain values and own their commit.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import NoReturn

import pyotp
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, or_, update

from shop.accounts.models import RecoveryCode, User
from shop.clock import utcnow
from shop.extensions import db
from shop.platform import crypto

log = logging.getLogger("shop.two_factor")

VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
_RECOVERY_LENGTH = 16  # 31^16 ≈ 2^79
DEFAULT_MAX_FAILURES = 5
DEFAULT_LOCK_MINUTES = 15


class TwoFactorError(Exception):
    """An expected refusal, with the message the staff member sees."""

    message = _l("This code is not valid. Please check it and try again.")


class InvalidCode(TwoFactorError):
    pass


class CodeAlreadyUsed(TwoFactorError):
    message = _l("This code has already been used. Wait for the next one and try again.")


class TwoFactorLocked(TwoFactorError):
    message = _l("Too many wrong codes. Two-factor verification is locked for a few minutes.")

    def __init__(self, until: datetime) -> None:
        super().__init__(until)
        self.until = until


class AlreadyEnrolled(TwoFactorError):
    message = _l("Two-factor authentication is already set up for this account.")


class NotEnrolled(TwoFactorError):
    message = _l("Two-factor authentication is not set up for this account.")


# -- reading ---------------------------------------------------------------------------------


def session_marker(user: User) -> str:
    """What a session stores once it has passed two-factor: tied to the login session and to
    the current enrolment, so a password change or a 2FA reset asks for it again."""
    enabled = user.totp_enabled_at.strftime("%Y%m%d%H%M%S%f") if user.totp_enabled_at else "-"
    return f"{user.get_id()}:{enabled}"


def state(user: User) -> str:
    """``on``, ``pending`` (enrolment started, not confirmed) or ``off``."""
    if user.totp_enabled_at is not None:
        return "on"
    return "pending" if user.totp_secret else "off"


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(
        name=email, issuer_name=current_app.config["SHOP_NAME"]
    )


def recovery_codes_left(user_id: int) -> int:
    return (
        db.session.scalar(
            db.select(func.count(RecoveryCode.id)).where(
                RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
            )
        )
        or 0
    )


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:  # SQLite hands back naive UTC
        return moment.replace(tzinfo=UTC)
    return moment


def locked_until(user: User, now: datetime | None = None) -> datetime | None:
    until = _aware(user.totp_locked_until)
    return until if until is not None and until > (now or utcnow()) else None


# -- enrolment -------------------------------------------------------------------------------


def _user(user_id: int, *, lock: bool = False) -> User:
    query = db.select(User).where(User.id == user_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.execute(query).scalar_one()


def pending_secret(user_id: int) -> str:
    """The secret offered for enrolment, made (and stored encrypted) on first call, then the
    same one until enrolment is confirmed: a reload does not invalidate a scanned QR code."""
    user = _user(user_id, lock=True)
    if user.totp_enabled_at is not None:
        db.session.rollback()
        raise AlreadyEnrolled()
    if user.totp_secret:
        try:
            secret = crypto.decrypt(user.totp_secret)
        except crypto.SecretUnreadable:
            log.warning("pending two-factor secret unreadable; a new one is made")
        else:
            db.session.rollback()
            return secret
    secret = pyotp.random_base32()
    user.totp_secret = crypto.encrypt(secret)
    db.session.commit()
    return secret


def confirm_enrolment(user_id: int, code: str, now: datetime | None = None) -> list[str]:
    """Turn two-factor on once the staff member proves their app has the secret; returns the
    recovery codes in clear, the only time they exist outside the staff member's hands."""
    now = now or utcnow()
    user = _user(user_id, lock=True)
    if user.totp_enabled_at is not None:
        db.session.rollback()
        raise AlreadyEnrolled()
    if not user.totp_secret:
        db.session.rollback()
        raise InvalidCode()
    step = _matching_step(crypto.decrypt(user.totp_secret), code, now)
    if step is None:
        db.session.rollback()
        raise InvalidCode()
    user.totp_enabled_at = now
    user.totp_last_step = step
    user.totp_failures = 0
    user.totp_locked_until = None
    codes = _replace_recovery_codes(user.id, now)
    db.session.commit()
    log.info("two-factor enabled", extra={"user": user.id})
    return codes


def _replace_recovery_codes(user_id: int, now: datetime) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(
        RecoveryCode(user_id=user_id, code_hash=_recovery_hash(user_id, code), created_at=now)
        for code in codes
    )
    return codes


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4))


def _normalize_recovery(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _recovery_hash(user_id: int, code: str) -> str:
    return hashlib.sha256(f"{user_id}:{_normalize_recovery(code)}".encode()).hexdigest()


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step ``code`` belongs to, within the accepted window, or None."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def looks_like_totp(code: str) -> bool:
    stripped = "".join(code.split())
    return len(stripped) == 6 and stripped.isdigit()


# -- verification ----------------------------------------------------------------------------


def verify(user_id: int, code: str, now: datetime | None = None) -> str:
    """Check a TOTP code or a recovery code for an enrolled staff member.

    Returns ``"totp"`` or ``"recovery"``. A wrong code counts towards the lock (committed
    before the refusal is raised); a locked account is refused without looking at the code.
    """
    now = now or utcnow()
    user = _user(user_id, lock=True)
    if user.totp_enabled_at is None or not user.totp_secret:
        db.session.rollback()
        raise NotEnrolled()
    if until := locked_until(user, now):
        db.session.rollback()
        raise TwoFactorLocked(until)
    if looks_like_totp(code):
        step = _matching_step(crypto.decrypt(user.totp_secret), code, now)
        if step is not None:
            recorded = db.session.execute(
                update(User)
                .where(
                    User.id == user_id,
                    or_(User.totp_last_step.is_(None), User.totp_last_step < step),
                )
                .values(totp_last_step=step, totp_failures=0, totp_locked_until=None)
                .execution_options(synchronize_session=False)
            ).rowcount
            if recorded != 1:
                _refuse(user, now, CodeAlreadyUsed())
            db.session.commit()
            return "totp"
    elif _normalize_recovery(code):
        consumed = db.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == _recovery_hash(user_id, code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if consumed == 1:
            user.totp_failures = 0
            user.totp_locked_until = None
            db.session.commit()
            log.info("two-factor recovery code used", extra={"user": user_id})
            return "recovery"
    _refuse(user, now, InvalidCode())


def _refuse(user: User, now: datetime, error: TwoFactorError) -> NoReturn:
    """Count the failure (committed), then raise ``error``, or the lock it has just set."""
    user.totp_failures = (user.totp_failures or 0) + 1
    limit = int(current_app.config.get("TWO_FACTOR_MAX_FAILURES", DEFAULT_MAX_FAILURES))
    if user.totp_failures >= limit:
        minutes = int(current_app.config.get("TWO_FACTOR_LOCK_MINUTES", DEFAULT_LOCK_MINUTES))
        until = now + timedelta(minutes=minutes)
        user.totp_locked_until = until
        user.totp_failures = 0
        db.session.commit()
        log.warning("two-factor locked after repeated failures", extra={"user": user.id})
        raise TwoFactorLocked(until)
    db.session.commit()
    raise error


# -- reset -----------------------------------------------------------------------------------


def reset(user_id: int) -> bool:
    """Forget a staff member's enrolment (lost phone): they enrol again at their next visit.
    Returns whether there was anything to forget."""
    user = _user(user_id, lock=True)
    had = user.totp_secret is not None or user.totp_enabled_at is not None
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.totp_failures = 0
    user.totp_locked_until = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    db.session.commit()
    return had
