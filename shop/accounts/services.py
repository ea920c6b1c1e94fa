"""Accounts: registration, authentication and password reset.

Services take plain values (email, password, locale) and own their commit. Their mails
(welcome, reset link) go through the outbox: an event in the same transaction, handled by
the worker (``shop.handlers``), which renders and queues the email.
"""

from __future__ import annotations

import hashlib

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError

from shop.accounts import passwords
from shop.accounts.models import Role, User
from shop.clock import utcnow
from shop.config import LOCALES
from shop.extensions import db
from shop.outbox.services import emit

_RESET_SALT = "comptoir.password-reset"


class AccountError(Exception):
    """An expected refusal, with the message the user sees."""

    message = _l("This could not be done. Please check and try again.")


class InvalidEmail(AccountError):
    message = _l("Please enter a valid email address, such as name@example.com.")


class EmailTaken(AccountError):
    message = _l("An account already exists with this email address. Log in instead?")


class WeakPassword(AccountError):
    MESSAGES = {
        "too_short": _l("This password is too short: use at least 10 characters."),
        "too_long": _l("This password is too long: use at most 256 characters."),
        "too_common": _l("This password is too easy to guess. Try a short sentence."),
        "contains_email": _l("Your password must not contain your email address."),
    }

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = self.MESSAGES[reason]


class InvalidCredentials(AccountError):
    message = _l("Incorrect email address or password.")


class ResetTokenInvalid(AccountError):
    message = _l(
        "This password reset link is not valid or has already been used. Please ask for a new one."
    )


class ResetTokenExpired(AccountError):
    message = _l("This password reset link has expired. Please ask for a new one.")


def normalize_email(raw: str) -> str:
    """The one spelling we store and look up: validated, then lower-cased whole."""
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidEmail(str(error)) from error
    return result.normalized.lower()


def find_by_email(email: str) -> User | None:
    try:
        normalized = normalize_email(email)
    except InvalidEmail:
        return None
    return db.session.execute(db.select(User).where(User.email == normalized)).scalar_one_or_none()


def register(
    email: str,
    password: str,
    *,
    locale: str,
    marketing_consent: bool = False,
    role: str = Role.CUSTOMER,
) -> User:
    normalized = normalize_email(email)
    if reason := passwords.weakness(password, normalized):
        raise WeakPassword(reason)
    if locale not in LOCALES:
        locale = LOCALES[0]
    user = User(
        email=normalized,
        password_hash=passwords.hash_password(password),
        role=role,
        locale=locale,
        marketing_consent=marketing_consent,
        marketing_consent_at=utcnow() if marketing_consent else None,
    )
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError as error:
        db.session.rollback()
        raise EmailTaken(normalized) from error
    emit("user_registered", user_id=user.id)
    db.session.commit()
    return user


# Verifying against this when the email is unknown keeps both paths equally slow.
_DUMMY_PASSWORD = "comptoir-timing-equalizer"  # noqa: S105


def authenticate(email: str, password: str) -> User:
    user = find_by_email(email)
    if user is None or not user.is_active:
        passwords.verify_password(_dummy_hash(), password)
        raise InvalidCredentials()
    if not passwords.verify_password(user.password_hash, password):
        raise InvalidCredentials()
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def _dummy_hash() -> str:
    cached = current_app.extensions.get("comptoir_dummy_hash")
    if cached is None:
        cached = passwords.hash_password(_DUMMY_PASSWORD)
        current_app.extensions["comptoir_dummy_hash"] = cached
    return cached


def load_session_user(session_id: str) -> User | None:
    """The user of a login session, if its password has not changed since."""
    user_id, _, fingerprint = session_id.partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active or user.session_fingerprint != fingerprint:
        return None
    return user


# -- password reset -----------------------------------------------------------------------
# The token is signed and time-limited, and carries a fingerprint of the current
# password hash: once the password changes, every earlier token stops working.


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_RESET_SALT)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(f"{user.id}:{user.password_hash}".encode()).hexdigest()[:24]


def make_reset_token(user: User) -> str:
    return _serializer().dumps({"uid": user.id, "fp": _fingerprint(user)})


def request_password_reset(email: str, *, locale: str) -> bool:
    """Email a reset link if the account exists. Says nothing to the caller either way
    beyond the return value, which views must not reveal.

    The event carries no token: the worker makes it when it writes the mail, so no usable
    link waits in ``outbox_events``.
    """
    user = find_by_email(email)
    if user is None or not user.is_active:
        return False
    lang = locale if locale in LOCALES else user.locale
    emit("password_reset_requested", user_id=user.id, locale=lang)
    db.session.commit()
    return True


def user_for_reset_token(token: str, *, lock: bool = False) -> User:
    """The user a reset token was made for, if it is still valid; ``lock`` holds the row
    until commit so two submissions of one token cannot both succeed."""
    try:
        data = _serializer().loads(token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"])
    except SignatureExpired as error:
        raise ResetTokenExpired() from error
    except BadSignature as error:
        raise ResetTokenInvalid() from error
    if not isinstance(data, dict) or not isinstance(data.get("uid"), int):
        raise ResetTokenInvalid()
    query = db.select(User).where(User.id == data["uid"])
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    user = db.session.execute(query).scalar_one_or_none()
    if user is None or not user.is_active or data.get("fp") != _fingerprint(user):
        raise ResetTokenInvalid()
    return user


def reset_password(token: str, new_password: str) -> User:
    user = user_for_reset_token(token)
    if reason := passwords.weakness(new_password, user.email):
        raise WeakPassword(reason)
    new_hash = passwords.hash_password(new_password)
    user = user_for_reset_token(token, lock=True)
    user.password_hash = new_hash
    user.password_changed_at = utcnow()
    db.session.commit()
    return user


def create_staff(email: str, password: str, *, role: str = Role.ADMIN, locale: str = "fr") -> User:
    existing = find_by_email(email)
    if existing is not None:
        if reason := passwords.weakness(password, existing.email):
            raise WeakPassword(reason)
        existing.role = role
        existing.password_hash = passwords.hash_password(password)
        existing.password_changed_at = utcnow()
        db.session.commit()
        return existing
    return register(email, password, locale=locale, role=role)


def set_locale(user_id: int, locale: str) -> None:
    """The language of the user's emails, dashboard and (for staff) back office."""
    if locale not in ("fr", "en"):
        raise ValueError(locale)
    user = db.session.get(User, user_id)
    if user is not None:
        user.locale = locale
        db.session.commit()
