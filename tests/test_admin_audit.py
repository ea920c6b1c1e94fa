"""The audit log page: newest first, filters, pagination, HTMX results, per-field diff;
read-only, admin only, a fixed number of queries."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from shop.audit.models import AuditLog
from shop.extensions import db
from shop.web.admin import ROUTE_PERMISSIONS
from tests.admin_support import login_staff, make_staff

# 2026-03-10 12:00 UTC is 13:00 in Paris; 2026-03-10 23:30 UTC is already the 11th there.
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _entry(app: Flask, **fields) -> int:
    defaults = {
        "actor_email": "",
        "action": "product.update",
        "entity_type": "product",
        "entity_id": "1",
        "ip": "127.0.0.1",
        "at": NOON,
    }
    with app.app_context():
        entry = AuditLog(**{**defaults, **fields})
        db.session.add(entry)
        db.session.commit()
        return entry.id


def _actions(html: str) -> list[str]:
    return re.findall(r'<tr class="audit-entry" data-action="([^"]+)">', html)


@pytest.fixture
def log(app, client):
    """An admin logged in, and entries by two staff members over three days."""
    admin_id = login_staff(client, app, "admin")
    manager_id = make_staff(app, "manager", "manon@example.com")
    _entry(
        app,
        actor_id=manager_id,
        actor_email="manon@example.com",
        action="order.cancel",
        entity_type="order",
        entity_id="42",
        before={"status": "paid", "note": "x"},
        after={"status": "cancelled", "note": "x"},
        at=NOON - timedelta(days=1),
    )
    _entry(
        app,
        actor_id=admin_id,
        actor_email="admin@example.com",
        action="product.update",
        entity_type="product",
        entity_id="7",
        before={"price": 1200, "title": "Chaise"},
        after={"price": 1500, "title": "Chaise en chêne"},
        at=NOON,
    )
    _entry(
        app,
        actor_id=manager_id,
        actor_email="manon@example.com",
        action="order.refund",
        entity_type="order",
        entity_id="42",
        before=None,
        after={"amount": 500, "lines": [1, 2]},
        at=NOON + timedelta(hours=11, minutes=30),
    )
    return {"admin": admin_id, "manager": manager_id}


def test_entries_newest_first_with_a_diff_per_field(log, client):
    page = client.get("/admin/audit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert _actions(html) == ["order.refund", "product.update", "order.cancel"]
    assert "3 entrées" in html
    diff = re.findall(
        r'<th scope="row">(\w+)</th><td class="audit-before">([^<]*)</td>'
        r'<td class="audit-after">([^<]*)</td>',
        html,
    )
    assert ("price", "1200", "1500") in diff
    assert ("title", "Chaise", "Chaise en chêne") in diff
    assert ("status", "paid", "cancelled") in diff
    assert ("amount", "—", "500") in diff and ("lines", "—", "[1, 2]") in diff
    assert not any(name == "note" for name, _, _ in diff)  # unchanged fields are left out
    assert "manon@example.com" in html and "127.0.0.1" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("actor=manon@example.com", ["order.refund", "order.cancel"]),
        ("actor=ADMIN@example.com", ["product.update"]),
        ("action=order.", ["order.refund", "order.cancel"]),
        ("action=order.cancel", ["order.cancel"]),
        ("entity_type=product", ["product.update"]),
        ("entity_type=order&entity_id=42", ["order.refund", "order.cancel"]),
        ("entity_id=7", ["product.update"]),
        ("since=2026-03-10&until=2026-03-10", ["product.update"]),  # Paris days
        ("since=2026-03-11", ["order.refund"]),
        ("until=2026-03-09", ["order.cancel"]),
        ("actor=manon@example.com&action=order.refund&since=2026-03-11", ["order.refund"]),
        ("action=stock.", []),
    ],
)
def test_filters(log, client, query, expected):
    page = client.get(f"/admin/audit?{query}")
    assert page.status_code == 200
    assert _actions(page.get_data(as_text=True)) == expected


@pytest.mark.parametrize(
    ("query", "status", "message", "kept"),
    [
        (
            "since=10/03/2026",
            400,
            "Veuillez saisir une date comme 2026-01-31.",
            'value="10/03/2026"',
        ),
        (
            "since=2026-03-11&until=2026-03-10",
            400,
            "La date de fin doit être égale ou postérieure à la date de début.",
            'value="2026-03-11"',
        ),
        ("page=0", 400, "Veuillez saisir un numéro de page supérieur ou égal à 1.", None),
        (
            "actor=nobody@example.com",
            422,
            "Aucun compte n’utilise cette adresse e-mail.",
            'value="nobody@example.com"',
        ),
    ],
)
def test_bad_filters_are_refused_with_the_input_kept(log, client, query, status, message, kept):
    page = client.get(f"/admin/audit?{query}")
    assert page.status_code == status
    html = page.get_data(as_text=True)
    assert message in html
    if kept:
        assert kept in html
    assert _actions(html) == []


def test_pagination_keeps_the_filters(app, client):
    admin_id = login_staff(client, app, "admin")
    with app.app_context():
        db.session.add_all(
            AuditLog(
                actor_id=admin_id,
                actor_email="admin@example.com",
                action="stock.adjust",
                entity_type="variant",
                entity_id=str(i),
                at=NOON + timedelta(minutes=i),
            )
            for i in range(60)
        )
        db.session.add(AuditLog(action="order.cancel", entity_type="order", at=NOON))
        db.session.commit()
    first = client.get("/admin/audit?action=stock.").get_data(as_text=True)
    assert len(_actions(first)) == 50
    assert "60 entrées" in first and "Page 1 sur 2" in first
    assert re.findall(r"#(\d+)</a>", first)[:2] == ["59", "58"]
    assert 'href="/admin/audit?page=2&amp;action=stock."' in first
    second = client.get("/admin/audit?page=2&action=stock.").get_data(as_text=True)
    assert _actions(second) == ["stock.adjust"] * 10
    assert re.findall(r"#(\d+)</a>", second)[-1] == "0"
    assert "Page 2 sur 2" in second and 'href="/admin/audit?page=1&amp;action=stock."' in second


def test_htmx_gets_the_results_alone(log, client, hx):
    response = client.get("/admin/audit?action=order.", headers=hx())
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.startswith('<section id="audit-results"') and "<html" not in body
    assert _actions(body) == ["order.refund", "order.cancel"]
    assert "HX-Request" in response.headers["Vary"]
    bad = client.get("/admin/audit?since=demain", headers=hx())
    assert bad.status_code == 400
    assert "Veuillez saisir une date comme 2026-01-31." in bad.get_data(as_text=True)


def test_the_page_form_works_without_javascript(log, client):
    html = client.get("/admin/audit").get_data(as_text=True)
    form = re.search(r'<form class="admin-filters" method="get" action="/admin/audit"', html)
    assert form and 'hx-get="/admin/audit"' in html
    for name in ("actor", "action", "entity_type", "entity_id", "since", "until"):
        assert f'name="{name}"' in html


def test_the_log_has_no_route_to_change_it(app, log, client):
    audit_routes = [
        rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("admin.audit")
    ]
    assert [(r.rule, sorted(r.methods - {"HEAD", "OPTIONS"})) for r in audit_routes] == [
        ("/admin/audit", ["GET"])
    ]
    assert ROUTE_PERMISSIONS["admin.audit"] == "audit.read"
    with app.app_context():
        before = db.session.scalar(db.select(db.func.count(AuditLog.id)))
    from tests.admin_support import admin_csrf

    assert client.post("/admin/audit", data={"csrf_token": admin_csrf(client)}).status_code == 405
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(AuditLog.id))) == before


def test_managers_cannot_read_the_log(app, client):
    login_staff(client, app, "manager")
    assert client.get("/admin/audit").status_code == 403


def test_the_page_runs_a_fixed_number_of_queries(app, client, queries):
    admin_id = login_staff(client, app, "admin")

    def add(count: int) -> None:
        with app.app_context():
            db.session.add_all(
                AuditLog(
                    actor_id=admin_id,
                    actor_email="admin@example.com",
                    action="product.update",
                    entity_type="product",
                    entity_id=str(i),
                    before={"price": i},
                    after={"price": i + 1},
                )
                for i in range(count)
            )
            db.session.commit()

    add(3)
    with queries() as few:
        assert client.get("/admin/audit?actor=admin@example.com").status_code == 200
    add(45)
    with queries() as many:
        page = client.get("/admin/audit?actor=admin@example.com")
    assert len(_actions(page.get_data(as_text=True))) == 48
    assert len(many) == len(few) <= 6
