"""Comptoir: a bilingual shop and marketplace on Flask and HTMX."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from shop import config as settings
from shop.config import ROOT


def create_app(config: dict[str, Any] | None = None) -> Flask:
    instance_path = Path(
        (config or {}).get("INSTANCE_PATH")
        or (config or {}).get("SHOP_INSTANCE_PATH")
        or os.environ.get("SHOP_INSTANCE_PATH")
        or ROOT / "instance"
    )
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(settings.load(instance_path, config))

    configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_template_helpers(app)
    register_commands(app)
    if hops := app.config["TRUST_PROXY_HOPS"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    return app


def configure_logging(app: Flask) -> None:
    from shop import log

    log.configure(app)


def register_extensions(app: Flask) -> None:
    from shop import i18n
    from shop.accounts import models as account_models
    from shop.audit import models as audit_models  # noqa: F401
    from shop.audit import services as audit
    from shop.cart import models as cart_models  # noqa: F401  (tables for migrations)
    from shop.catalogue import models as catalogue_models  # noqa: F401
    from shop.checkout import models as checkout_models  # noqa: F401
    from shop.emails import models as email_models  # noqa: F401
    from shop.extensions import babel, csrf, db, htmx, limiter, login_manager, migrate
    from shop.inventory import models as inventory_models  # noqa: F401
    from shop.invoices import models as invoice_models  # noqa: F401
    from shop.orders import models as order_models  # noqa: F401
    from shop.outbox import models as outbox_models  # noqa: F401
    from shop.payments import models as payment_models  # noqa: F401
    from shop.platform import models as platform_models  # noqa: F401
    from shop.web import security

    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        _sqlite_pragmas(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    babel.init_app(app, locale_selector=i18n.select_locale)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "account.login"
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(session_id: str) -> account_models.User | None:
        from shop.accounts.services import load_session_user

        return load_session_user(session_id)

    i18n.init_app(app)
    security.init_app(app)
    audit.init_app()


def _sqlite_pragmas(app: Flask) -> None:
    from sqlalchemy import event

    from shop.extensions import db

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


def register_blueprints(app: Flask) -> None:
    from shop.web import converters, health, seo
    from shop.web.account import bp as account
    from shop.web.admin import bp as admin
    from shop.web.cart import bp as cart
    from shop.web.checkout import bp as checkout
    from shop.web.invoices import bp as invoices
    from shop.web.media import bp as media
    from shop.web.payments import bp as payments
    from shop.web.storefront import bp as storefront
    from shop.web.webhooks import bp as webhooks

    converters.init_app(app)
    app.register_blueprint(storefront)
    app.register_blueprint(account)
    app.register_blueprint(admin)
    app.register_blueprint(health.bp)
    app.register_blueprint(media)
    app.register_blueprint(seo.bp)
    app.register_blueprint(payments)
    app.register_blueprint(webhooks)
    app.register_blueprint(cart)
    app.register_blueprint(checkout)
    app.register_blueprint(invoices)


def register_error_handlers(app: Flask) -> None:
    from shop.web import errors

    errors.init_app(app)


def register_template_helpers(app: Flask) -> None:
    from shop.web import templating

    templating.init_app(app)


def register_commands(app: Flask) -> None:
    from shop import commands

    commands.init_app(app)
