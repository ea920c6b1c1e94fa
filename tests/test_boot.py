"""The app boots on PostgreSQL with its migrations; the embedded SQLite default works too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from shop import create_app
from shop.config import ConfigError
from shop.extensions import db

ROOT = Path(__file__).resolve().parent.parent
FLASK = [sys.executable, "-m", "flask", "--app", "shop"]


def test_app_runs_on_postgresql_with_migrations_applied(app):
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        tables = set(
            db.session.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ).scalars()
        )
    assert {"users", "email_outbox", "alembic_version"} <= tables


def test_flask_db_check_is_clean(app, test_env):
    result = subprocess.run(
        [*FLASK, "db", "check"],
        env={**os.environ, **test_env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No new upgrade operations detected" in result.stdout + result.stderr


def test_production_refuses_to_start_without_secrets(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY and SETTINGS_ENCRYPTION_KEY"):
        create_app(
            {
                "SHOP_ENV": "production",
                "SECRET_KEY": "",
                "SETTINGS_ENCRYPTION_KEY": "",
                "INSTANCE_PATH": str(tmp_path),
            }
        )
    with pytest.raises(ConfigError, match="SETTINGS_ENCRYPTION_KEY"):
        create_app(
            {
                "SHOP_ENV": "production",
                "SECRET_KEY": "x" * 40,
                "SETTINGS_ENCRYPTION_KEY": "",
                "INSTANCE_PATH": str(tmp_path),
            }
        )


def test_production_starts_with_secrets_and_secure_cookies(tmp_path):
    app = create_app(
        {
            "SHOP_ENV": "production",
            "SECRET_KEY": "x" * 40,
            "SETTINGS_ENCRYPTION_KEY": "y" * 40,
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path}/p.db",
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    response = app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


SMOKE = r"""
import sys
from shop import create_app
from shop.queue import wait_for_inprocess_jobs

app = create_app()
client = app.test_client()
assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
assert app.config["REDIS_URL"] is None
home = client.get("/fr/")
assert home.status_code == 200, home.status_code
assert '<html lang="fr">' in home.get_data(as_text=True)
DEMO = {"email": "client@demo.example.com", "password": "comptoir-demo-2026"}
login = client.post("/fr/compte/connexion", data=DEMO)
# No CSRF token: refused, form kept.
assert login.status_code == 400, login.status_code
page = client.get("/en/account/login").get_data(as_text=True)
token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
login = client.post("/en/account/login", data={**DEMO, "csrf_token": token})
assert login.status_code == 303, login.status_code
assert client.get("/en/account/").status_code == 200
health = client.get("/healthz").get_json()
assert health == {"status": "ok", "checks": {"database": "ok", "redis": "not configured"}}, health
print("smoke ok")
"""


def test_embedded_sqlite_default_migrates_seeds_and_serves(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "SMTP_URL", "SECRET_KEY")
    }
    env["SHOP_INSTANCE_PATH"] = str(tmp_path)
    env["ARGON2_TIME_COST"] = "1"
    env["ARGON2_MEMORY_COST"] = "8192"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            # A guard against a hang, not a timing: seeding draws and encodes ~280 pictures
            # (about a minute alone, several when the suite's workers share the cores).
            list(args),
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    run(*FLASK, "db", "upgrade")
    seeded = run(*FLASK, "shop", "seed-demo", "--if-empty")
    assert "client@demo.example.com" in seeded.stdout
    again = run(*FLASK, "shop", "seed-demo", "--if-empty")
    assert "nothing loaded" in again.stdout
    assert "smoke ok" in run(sys.executable, "-c", SMOKE).stdout
    assert (tmp_path / "shop.db").exists()
    # The welcome emails went through the in-process job runner into instance/outbox.
    emails = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(emails) == 5
    assert b"Bienvenue chez Comptoir" in b"".join(e.read_bytes() for e in emails) or any(
        b"Subject: =?utf-8?q?Bienvenue" in e.read_bytes() for e in emails
    )


def test_create_admin_command_creates_and_promotes_staff(app):
    from shop.accounts.models import User

    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "shop",
            "create-admin",
            "--email",
            "Boss@Example.com",
            "--password",
            "la patronne du comptoir",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "admin boss@example.com ready" in result.output
    weak = runner.invoke(
        args=[
            "shop",
            "create-admin",
            "--email",
            "boss@example.com",
            "--password",
            "short",
            "--role",
            "manager",
        ]
    )
    assert weak.exit_code != 0
    assert "trop court" in weak.output  # the CLI speaks the default locale
    with app.app_context():
        user = db.session.execute(db.select(User)).scalar_one()
        assert (user.email, user.role, user.is_staff) == ("boss@example.com", "admin", True)


def test_the_migrations_build_exactly_the_models_schema(app):
    """``flask db check`` in a test: a model change without its migration fails the suite."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with app.app_context(), db.engine.connect() as connection:
        options = app.extensions["migrate"].configure_args  # as env.py configures alembic
        context = MigrationContext.configure(connection, opts=options)
        differences = compare_metadata(context, db.metadata)

    assert differences == []
