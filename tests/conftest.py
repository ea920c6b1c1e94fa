"""Fixtures: real PostgreSQL, Redis, SMTP and localstripe for the session; an app per test.

Every test that uses ``app`` (or ``client``) starts from empty tables and fresh rate limits.

``make test`` runs the suite on pytest-xdist workers (``-n``, see the Makefile). A session
fixture is one per worker process: each worker has its own PostgreSQL, Redis, SMTP mailbox,
localstripe, instance folder, live server and browser, so tests never share state across
workers. Without ``-n`` the suite runs in one process as before.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from werkzeug.serving import make_server

from tests import services

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "une phrase assez longue"


# -- services (session) ------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[services.Service]:
    service = services.start_postgres()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def redis_service() -> Iterator[services.Service]:
    service = services.start_redis()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def smtp() -> Iterator[services.Service]:
    service = services.start_smtp()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def mailbox(smtp: services.Service) -> services.Mailbox:
    return smtp.extra["mailbox"]


@pytest.fixture(scope="session")
def localstripe() -> Iterator[services.Service]:
    service = services.start_localstripe()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def test_env(
    postgres: services.Service,
    redis_service: services.Service,
    smtp: services.Service,
    localstripe: services.Service,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    """The environment of every process of the shop under test (app, worker, CLI)."""
    return {
        "DATABASE_URL": postgres.url,
        "REDIS_URL": redis_service.url,
        "SMTP_URL": smtp.url,
        "SECRET_KEY": "test-secret-key-not-for-production-0123456789",
        "SETTINGS_ENCRYPTION_KEY": "test-encryption-key",
        "SHOP_INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
        # Only written into links (nothing listens there), so every worker may use it.
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
        "RQ_QUEUE": f"comptoir-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}",
        "MAIL_FROM": "Comptoir <boutique@comptoir.example.com>",
        # Stripe is localstripe, driven by the official library and its fake Stripe.js.
        "STRIPE_SECRET_KEY": "sk_test_comptoir",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_comptoir",
        "STRIPE_WEBHOOK_SECRET": "whsec_comptoir_test",
        "STRIPE_API_BASE": localstripe.url,
        "STRIPE_JS_URL": f"{localstripe.url}/js.stripe.com/v3/",
        # Still argon2id, at a cost that keeps the suite quick.
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST": "8192",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture(scope="session")
def _session_app(test_env: dict[str, str]) -> Iterator[Flask]:
    import flask_migrate

    from shop import create_app
    from shop.extensions import db

    app = create_app(dict(test_env))
    with app.app_context():
        flask_migrate.upgrade()
    app.extensions["test_limiter_state"] = _limiter_state()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _empty_tables(app: Flask) -> None:
    from shop.checkout.cache import rules_changed
    from shop.extensions import db, limiter

    with app.app_context():
        db.session.remove()
        names = ", ".join(t.name for t in db.metadata.sorted_tables)
        # The session's worker may still be finishing an earlier test's job (a welcome mail,
        # say) and hold row locks TRUNCATE must wait for; when PostgreSQL picks TRUNCATE as
        # the deadlock victim, try again once the job has moved on.
        for attempt in range(10):
            try:
                with db.engine.begin() as connection:
                    # No RESTART IDENTITY: ids never repeat, so a late job from one test can
                    # never act on another test's rows.
                    connection.exec_driver_sql(f"TRUNCATE {names} CASCADE")
                break
            except DBAPIError as error:
                code = getattr(error.orig, "sqlstate", None)
                if code not in ("40P01", "55P03") or attempt == 9:
                    raise
                time.sleep(0.2 * (attempt + 1))
        limiter.reset()
        rules_changed()  # tax rates and shipping methods went with the tables


def fresh_state(app: Flask) -> None:
    """Empty tables and the session app's own rate limits: what ``app`` does before each
    test, for module-scoped fixtures too. (Flask-Limiter keeps one storage per process,
    rebound by every create_app(): tests that build an app of their own would leave the
    shared app counting in their storage.)"""
    from shop.extensions import limiter

    limiter._storage, limiter._limiter = app.extensions["test_limiter_state"]
    _empty_tables(app)


def _limiter_state() -> tuple:
    from shop.extensions import limiter

    return limiter._storage, limiter._limiter


@pytest.fixture
def app(_session_app: Flask) -> Iterator[Flask]:
    fresh_state(_session_app)
    yield _session_app
    _empty_tables(_session_app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def hx():
    """Headers of an HTMX request (``hx(**more)`` adds or overrides)."""

    def headers(**more: str) -> dict[str, str]:
        return {"HX-Request": "true", **more}

    return headers


@contextlib.contextmanager
def recorded_statements(app: Flask) -> Iterator[list[str]]:
    """``with recorded_statements(app) as statements:`` the SQL ``app``'s engine runs inside
    the block."""
    from shop.extensions import db

    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def queries(app):
    """``with queries() as statements:`` records the SQL statements run inside the block."""
    return lambda: recorded_statements(app)


# -- helpers -----------------------------------------------------------------------------

_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    match = _CSRF_META.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {url} ({response.status_code})"
    return match.group(1)


class Auth:
    PATHS = {
        "fr": {
            "register": "/fr/compte/inscription",
            "login": "/fr/compte/connexion",
            "logout": "/fr/compte/deconnexion",
            "forgot": "/fr/compte/mot-de-passe-oublie",
            "dashboard": "/fr/compte/",
        },
        "en": {
            "register": "/en/account/register",
            "login": "/en/account/login",
            "logout": "/en/account/logout",
            "forgot": "/en/account/forgot-password",
            "dashboard": "/en/account/",
        },
    }

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def register(self, email: str, password: str = PASSWORD, lang: str = "fr", **extra):
        url = self.PATHS[lang]["register"]
        token = csrf_token(self.client, url)
        return self.client.post(
            url, data={"email": email, "password": password, "csrf_token": token, **extra}
        )

    def login(self, email: str, password: str = PASSWORD, lang: str = "fr"):
        url = self.PATHS[lang]["login"]
        token = csrf_token(self.client, url)
        return self.client.post(
            url, data={"email": email, "password": password, "csrf_token": token}
        )

    def logout(self, lang: str = "fr"):
        token = csrf_token(self.client, f"/{lang}/")
        return self.client.post(self.PATHS[lang]["logout"], data={"csrf_token": token})


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


@pytest.fixture
def make_user(app: Flask):
    """Create a customer directly through the service (no HTTP)."""
    from shop.accounts import services as accounts

    def make(email: str, password: str = PASSWORD, locale: str = "fr", **kwargs):
        with app.app_context():
            user = accounts.register(email, password, locale=locale, **kwargs)
            return user.id

    return make


# -- processes ---------------------------------------------------------------------------


@pytest.fixture
def rq_worker(test_env: dict[str, str], _session_app: Flask) -> Iterator[subprocess.Popen]:
    """A real ``python worker.py`` process on the test Redis and PostgreSQL, for this test
    only: a worker left running would handle the events and mails of the tests after it
    (every commit enqueues a job) while they compare tables or count mails."""
    from rq import Worker

    from shop.queue import redis_connection

    _forget_queued_jobs(_session_app)
    log = open(Path(test_env["SHOP_INSTANCE_PATH"]) / "worker.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "worker.py")],
        env={**os.environ, **test_env},
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    connection = redis_connection(_session_app)
    # A wait for start-up, not a timing: on a loaded machine (parallel workers, other runs)
    # importing the worker can take well over 30 s.
    deadline = time.monotonic() + 180
    try:
        while not any(w.pid == process.pid for w in Worker.all(connection=connection)):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "worker did not start: " + (Path(log.name).read_text() or "(no output)")
                )
            time.sleep(0.1)
        yield process
    finally:
        # Also when it did not register in time: a worker left running would go on taking
        # the jobs of later tests.
        _stop(process)
        log.close()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _forget_queued_jobs(app: Flask) -> None:
    """The worker starts on an empty queue: jobs enqueued by earlier tests (whose tables are
    gone) would keep it busy, and make the first test to use it wait for them. The markers of
    waiting coalesced jobs go too, so the next commit enqueues a fresh copy."""
    from shop.queue import queue

    rq_queue = queue(app)
    assert rq_queue is not None
    rq_queue.empty()
    registry = rq_queue.scheduled_job_registry
    for job_id in registry.get_job_ids():
        registry.remove(job_id, delete_job=True)
    for key in rq_queue.connection.scan_iter("comptoir:waiting:*"):
        rq_queue.connection.delete(key)


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self.port = services.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = make_server("127.0.0.1", self.port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@pytest.fixture(scope="session")
def live_server(_session_app: Flask) -> Iterator[LiveServer]:
    server = LiveServer(_session_app)
    server.start()
    yield server
    server.stop()


# -- Playwright with Debian's Chromium (never `playwright install`) ----------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
        ],
        # Only the fonts the project installs, whatever else the machine has: screenshots
        # (tests/test_screenshots_browser.py) render the same on every machine.
        "env": {**os.environ, "FONTCONFIG_FILE": str(ROOT / "tests" / "fonts.conf")},
    }


@pytest.fixture
def live(app: Flask, live_server: LiveServer) -> LiveServer:
    """The live server, with the per-test clean database of ``app``."""
    return live_server
