"""Extension objects, unbound; ``create_app`` binds them."""

import flask_login
from flask import current_app, request, session
from flask_babel import Babel
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def client_address() -> str:
    """Who is asking, for the rate limits: the client address (behind the trusted proxies
    only, as ProxyFix sets it)."""
    return request.remote_addr or "unknown"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class LoginManager(flask_login.LoginManager):
    """Session protection for sessions that can sign someone in, and only for those.

    In "strong" mode Flask-Login treats every non-empty session without its identifier as
    stolen, and an anonymous visitor's session (just a CSRF token) never has one: each of
    their requests rewrote the session cookie and deleted a remember cookie they never had.
    Such a session signs nobody in, so the check is skipped unless it names a user or a
    remember cookie comes with it; signed-in sessions are protected exactly as before.
    """

    def _session_protection_failed(self) -> bool:
        remember = current_app.config.get("REMEMBER_COOKIE_NAME", flask_login.COOKIE_NAME)
        if "_user_id" not in session and remember not in request.cookies:
            return False
        return super()._session_protection_failed()


db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
babel = Babel()
csrf = CSRFProtect()
htmx = HTMX()
limiter = Limiter(key_func=client_address)
