from __future__ import annotations

import hashlib
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shop.clock import utcnow
from shop.extensions import db


class Role:
    """Staff roles rank above customers; each grants what the one below it has."""

    CUSTOMER = "customer"
    SUPPORT = "support"
    MANAGER = "manager"
    ADMIN = "admin"
    ORDER = (CUSTOMER, SUPPORT, MANAGER, ADMIN)

    @classmethod
    def rank(cls, role: str) -> int:
        return cls.ORDER.index(role)


class User(UserMixin, db.Model):
    """Customers and staff in one table; ``role`` tells them apart."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN {Role.ORDER!r}", name="role_known"),
        CheckConstraint("locale IN ('fr', 'en')", name="locale_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.CUSTOMER)
    locale: Mapped[str] = mapped_column(String(5), default="fr")
    is_active_account: Mapped[bool] = mapped_column(default=True)
    marketing_consent: Mapped[bool] = mapped_column(default=False)
    marketing_consent_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))
    password_changed_at: Mapped[datetime] = mapped_column(
        db.DateTime(timezone=True), default=utcnow
    )
    anonymized_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))
    # TOTP two-factor authentication (see shop.accounts.two_factor). The secret is Fernet-
    # encrypted; without ``totp_enabled_at`` it is an enrolment not yet confirmed.
    totp_secret: Mapped[str | None] = mapped_column(Text)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)  # replay protection
    totp_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    totp_locked_until: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))

    @property
    def is_active(self) -> bool:  # Flask-Login asks this before logging a user in
        return self.is_active_account and self.anonymized_at is None

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def is_staff(self) -> bool:
        return self.role != Role.CUSTOMER

    def has_role(self, role: str) -> bool:
        return Role.rank(self.role) >= Role.rank(role)

    def get_id(self) -> str:
        # The session id changes with the password, so a reset logs out every other session.
        return f"{self.id}:{self.session_fingerprint}"

    @property
    def session_fingerprint(self) -> str:
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class RecoveryCode(db.Model):
    """A one-time two-factor recovery code, kept as a hash only (shown once at enrolment)."""

    __tablename__ = "recovery_codes"
    __table_args__ = (Index("ix_recovery_codes_user", "user_id", "code_hash", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))
