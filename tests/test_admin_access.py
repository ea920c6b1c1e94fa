"""The role matrix, walked: every admin route, for every role, allowed or 403 as the matrix
says, and a refused write changes nothing."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import text

from shop.accounts.permissions import MATRIX, Permission, allows
from shop.web.admin import ROUTE_PERMISSIONS
from tests.admin_support import ROLES, admin_csrf, login_staff, sample_url_values
from tests.conftest import csrf_token


def _admin_rules(app: Flask):
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("admin.")),
        key=lambda rule: (rule.rule, rule.endpoint),
    )


_DELIVERED_BY_THE_WORKER = frozenset({"email_outbox", "outbox_events", "invoices"})


def _database_fingerprint(app: Flask) -> dict[str, str]:
    """Every table's rows, hashed: a refused request must leave all of them as they were."""
    from shop.extensions import db

    with app.app_context():
        tables = db.session.scalars(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version' ORDER BY tablename"
            )
        ).all()
        # The worker delivers mails and outbox events queued by the setup (welcome mails) and
        # renders the sample order's invoice while the walk runs: for those tables, the rows
        # must be the same ones (no new mail, event or invoice), whatever their state.
        fingerprints = {}
        for table in tables:
            rows = "t.id::text" if table in _DELIVERED_BY_THE_WORKER else "t::text"
            fingerprints[table] = db.session.scalar(
                text(
                    f"SELECT md5(coalesce(string_agg({rows}, '|' ORDER BY {rows}), ''))"
                    f' FROM "{table}" t'
                )
            )
        return fingerprints


def test_every_admin_route_declares_a_permission(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in _admin_rules(app)}
    assert endpoints, "no admin routes"
    assert endpoints <= set(ROUTE_PERMISSIONS), endpoints - set(ROUTE_PERMISSIONS)
    known = {value for name, value in vars(Permission).items() if name.isupper()} | {None}
    assert set(ROUTE_PERMISSIONS.values()) <= known


def test_matrix_matches_the_issue() -> None:
    # SUPPORT reads orders and customers and can resend emails; no refunds, no settings.
    assert MATRIX["support"] == {
        Permission.DASHBOARD,
        Permission.ORDERS_READ,
        Permission.CUSTOMERS_READ,
        Permission.EMAILS_RESEND,
    }
    for permission in (Permission.SETTINGS, Permission.AUDIT_READ, Permission.STAFF):
        assert not allows("manager", permission)
        assert allows("admin", permission)
    assert MATRIX["admin"] > MATRIX["manager"] > MATRIX["support"]
    assert MATRIX["customer"] == frozenset()


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix_on_every_admin_route(app: Flask, role: str) -> None:
    client = app.test_client()
    if role == "customer":
        from tests.admin_support import make_staff
        from tests.conftest import Auth

        make_staff(app, "customer", "customer@example.com")
        Auth(client).login("customer@example.com")
    else:
        login_staff(client, app, role)
    values = sample_url_values(app)
    token = csrf_token(client, "/fr/")
    checked = 0
    for rule in _admin_rules(app):
        missing = set(rule.arguments) - set(values)
        assert not missing, f"{rule.rule}: add a sample for {missing} in tests/admin_support.py"
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})
        permission = ROUTE_PERMISSIONS[rule.endpoint]
        allowed = role != "customer" and (permission is None or allows(role, permission))
        if "GET" in rule.methods:
            response = client.get(url)
            checked += 1
            if allowed:
                assert response.status_code != 403, (role, url)
                assert response.status_code < 500, (role, url, response.status_code)
            else:
                assert response.status_code == 403, (role, url, response.status_code)
        if "POST" in rule.methods:
            before = _database_fingerprint(app)
            response = client.post(url, data={"csrf_token": token})
            checked += 1
            if allowed:
                assert response.status_code != 403, (role, url)
                assert response.status_code < 500, (role, url, response.status_code)
            else:
                assert response.status_code == 403, (role, url, response.status_code)
                assert _database_fingerprint(app) == before, (role, url)
    assert checked >= len(_admin_rules(app))


def test_anonymous_visitors_are_sent_to_the_login_page(client) -> None:
    response = client.get("/admin/")
    assert response.status_code in (302, 303)
    assert (
        "/compte/connexion" in response.headers["Location"]
        or "/account/login" in response.headers["Location"]
    )
    assert "next=/admin/" in response.headers["Location"]


def test_admin_pages_are_private_and_in_the_staff_language(app: Flask) -> None:
    client = app.test_client()
    login_staff(client, app, "support")
    response = client.get("/admin/")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "noindex" in response.headers["X-Robots-Tag"]
    assert '<html lang="fr">' in response.get_data(as_text=True)
    token = admin_csrf(client)
    response = client.post(
        "/admin/language", data={"csrf_token": token, "locale": "en", "next": "/admin/"}
    )
    assert response.status_code == 303
    page = client.get("/admin/").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Dashboard" in page


def test_a_staff_write_is_audited_and_the_log_cannot_be_edited(app: Flask) -> None:
    from sqlalchemy.exc import DBAPIError

    from shop.audit.models import AuditLog
    from shop.extensions import db

    client = app.test_client()
    user_id = login_staff(client, app, "support")
    token = admin_csrf(client)
    client.post("/admin/language", data={"csrf_token": token, "locale": "en", "next": "/admin/"})
    with app.app_context():
        entries = db.session.scalars(db.select(AuditLog)).all()
        assert [(e.actor_id, e.action, e.entity_type, e.entity_id) for e in entries] == [
            (user_id, "staff.locale", "user", str(user_id))
        ]
        assert entries[0].before == {"locale": "fr"}
        assert entries[0].after == {"locale": "en"}
        assert entries[0].ip == "127.0.0.1"
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text("UPDATE audit_logs SET action = 'x'"))
        db.session.rollback()
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text("DELETE FROM audit_logs"))
        db.session.rollback()
        assert db.session.scalar(db.select(db.func.count(AuditLog.id))) == 1


def test_a_refused_language_change_writes_nothing(app: Flask) -> None:
    from shop.audit.models import AuditLog
    from shop.extensions import db

    client = app.test_client()
    login_staff(client, app, "support")
    token = admin_csrf(client)
    response = client.post(
        "/admin/language", data={"csrf_token": token, "locale": "de", "next": "/admin/"}
    )
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(AuditLog.id))) == 0
