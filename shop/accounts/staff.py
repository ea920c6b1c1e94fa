"""Staff roles: who works in the back office, and as what.

A role is granted to an existing account (the person registers first, like any customer);
``customer`` takes the back office away again. The shop never goes without an active
administrator: the last one cannot step down (checked with the administrators' rows locked,
so two administrators demoting each other at once cannot both succeed).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, case

from shop.accounts.models import Role, User
from shop.extensions import db


class StaffError(Exception):
    message = _l("This could not be done. Please check and try again.")


class UnknownRole(StaffError):
    message = _l("Please choose a role from the list.")


class LastAdmin(StaffError):
    message = _l(
        "The shop needs at least one administrator: make someone else administrator first."
    )


def staff_members() -> list[User]:
    """Everyone with a back-office role, administrators first."""
    rank = case({role: i for i, role in enumerate(Role.ORDER)}, value=User.role)
    return list(
        db.session.scalars(
            db.select(User).where(User.role != Role.CUSTOMER).order_by(rank.desc(), User.email)
        )
    )


def _is_active_admin() -> list[ColumnElement[bool]]:
    return [
        User.role == Role.ADMIN,
        User.is_active_account.is_(True),
        User.anonymized_at.is_(None),
    ]


def set_role(user_id: int, role: str) -> User:
    """Give ``role`` to a user. Refused (``LastAdmin``) if it would leave no active admin.

    Locks, always in this order: every active administrator's row (by id), then the user's.
    Two administrators demoting each other at once are thus serialized, and the second sees
    that only one administrator is left.
    """
    if role not in Role.ORDER:
        raise UnknownRole(role)
    admins: list[int] = []
    if role != Role.ADMIN:
        admins = list(
            db.session.scalars(
                db.select(User.id).where(*_is_active_admin()).order_by(User.id).with_for_update()
            )
        )
    user = db.session.execute(
        db.select(User)
        .where(User.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    if user.role == Role.ADMIN and role != Role.ADMIN and set(admins) <= {user.id}:
        db.session.rollback()
        raise LastAdmin()
    user.role = role
    db.session.commit()
    return user
