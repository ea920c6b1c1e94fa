"""The staff page: staff with their role and two-factor state; roles granted, changed and
taken back by email (audited); the shop never left without an administrator."""

from __future__ import annotations

import re
import threading

import pytest
from flask import Flask

from shop.accounts import staff
from shop.accounts.models import User
from shop.audit.models import AuditLog
from shop.extensions import db
from tests.admin_support import admin_csrf, login_staff, make_staff
from tests.conftest import Auth


def _role(app: Flask, email: str) -> str:
    with app.app_context():
        return db.session.scalar(db.select(User.role).where(User.email == email))


def _audit(app: Flask) -> list[tuple]:
    with app.app_context():
        return [
            (e.actor_id, e.action, e.entity_type, e.entity_id, e.before, e.after)
            for e in db.session.scalars(db.select(AuditLog).order_by(AuditLog.id))
        ]


def _post(client, **data):
    return client.post("/admin/staff", data={"csrf_token": admin_csrf(client), **data})


def test_the_list_shows_staff_with_role_and_two_factor_state(app, client):
    admin_id = login_staff(client, app, "admin")
    make_staff(app, "manager")
    make_staff(app, "support")
    make_staff(app, "customer", "client@example.com")
    with app.app_context():
        manager = db.session.scalar(db.select(User).where(User.email == "manager@example.com"))
        manager.totp_secret = "pending-token"
        db.session.commit()

    page = client.get("/admin/staff")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    rows = re.findall(r'<tr id="staff-(\d+)">(.*?)</tr>', html, re.S)
    text = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for _, row in rows]
    cells = [re.sub(r"\d\d/\d\d/\d{4} \d\d:\d\d", "<date>", t) for t in text]
    assert cells == [
        "admin@example.com (vous) administrateur Obligatoire, pas encore configurée <date>",
        "manager@example.com gestionnaire En cours de configuration — Réinitialiser la double "
        "authentification — manager@example.com",
        "support@example.com support Désactivée (facultative) —",
    ]
    assert "client@example.com" not in html
    assert rows[0][0] == str(admin_id)


def test_the_list_runs_a_fixed_number_of_queries(app, client, queries):
    login_staff(client, app, "admin")
    for i in range(2):
        make_staff(app, "support", f"support{i}@example.com")
    with queries() as few:
        assert client.get("/admin/staff").status_code == 200
    for i in range(2, 12):
        make_staff(app, "manager", f"manager{i}@example.com")
    with queries() as many:
        page = client.get("/admin/staff")
    assert page.get_data(as_text=True).count('<tr id="staff-') == 13
    assert len(many) == len(few) <= 4


def test_a_customer_is_made_manager_then_customer_again(app, client):
    admin_id = login_staff(client, app, "admin")
    customer_id = make_staff(app, "customer", "camille@example.com")

    response = _post(client, email=" Camille@Example.com ", role="manager")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/staff"
    assert "camille@example.com est maintenant gestionnaire." in client.get(
        "/admin/staff"
    ).get_data(as_text=True)
    assert _role(app, "camille@example.com") == "manager"
    assert _audit(app) == [
        (
            admin_id,
            "staff.role",
            "user",
            str(customer_id),
            {"role": "customer"},
            {"role": "manager"},
        )
    ]
    # The new manager gets into the back office, through two-factor enrolment.
    camille = app.test_client()
    Auth(camille).login("camille@example.com")
    response = camille.get("/admin/")
    assert response.headers["Location"] == "/admin/two-factor?next=/admin/"

    response = _post(client, email="camille@example.com", role="customer")
    assert response.status_code == 303
    assert _role(app, "camille@example.com") == "customer"
    assert _audit(app)[-1][4:] == ({"role": "manager"}, {"role": "customer"})
    # Taken away at once, even from a session already open.
    assert camille.get("/admin/").status_code == 403


def test_the_same_role_again_changes_nothing(app, client):
    login_staff(client, app, "admin")
    make_staff(app, "support")
    response = _post(client, email="support@example.com", role="support")
    assert response.status_code == 303
    assert "support@example.com est déjà support." in client.get("/admin/staff").get_data(
        as_text=True
    )
    assert _audit(app) == []


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"email": "nobody@example.com", "role": "manager"}, 422, "Aucun compte n’utilise cette"),
        ({"email": "support@example.com", "role": "owner"}, 422, "Veuillez choisir un rôle dans"),
        ({"email": "", "role": "manager"}, 422, "Veuillez saisir une adresse e-mail."),
        ({"email": "support@example.com", "role": ""}, 422, "Veuillez choisir un rôle dans"),
    ],
)
def test_bad_input_is_refused_with_the_form_kept(app, client, data, status, message):
    login_staff(client, app, "admin")
    make_staff(app, "support")
    response = _post(client, **data)
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert message in html
    if data["email"]:
        assert f'value="{data["email"]}"' in html
    assert _role(app, "support@example.com") == "support"
    assert _audit(app) == []


def test_bad_input_with_htmx_gets_the_panel_back(app, client, hx):
    login_staff(client, app, "admin")
    token = admin_csrf(client)
    response = client.post(
        "/admin/staff",
        data={"email": "nobody@example.com", "role": "manager"},
        headers=hx(**{"X-CSRFToken": token}),
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert body.startswith('<div id="staff-panel">') and "<html" not in body


def test_the_last_admin_cannot_step_down(app, client):
    admin_id = login_staff(client, app, "admin")
    response = _post(client, email="admin@example.com", role="manager")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "La boutique a besoin d’au moins un administrateur" in html
    assert _role(app, "admin@example.com") == "admin"
    assert _audit(app) == []

    # With a second administrator, stepping down is allowed (and audited).
    make_staff(app, "admin", "second.admin@example.com")
    response = _post(client, email="admin@example.com", role="manager")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/"
    assert _role(app, "admin@example.com") == "manager"
    assert _audit(app) == [
        (admin_id, "staff.role", "user", str(admin_id), {"role": "admin"}, {"role": "manager"})
    ]
    assert client.get("/admin/staff").status_code == 403


def test_two_admins_demoting_each_other_at_once_leave_one_admin(app):
    first = make_staff(app, "admin", "first@example.com")
    second = make_staff(app, "admin", "second@example.com")
    start = threading.Barrier(2)
    outcomes: dict[int, str] = {}

    def demote(target: int) -> None:
        with app.app_context():
            start.wait()
            try:
                staff.set_role(target, "support")
                outcomes[target] = "demoted"
            except staff.LastAdmin:
                outcomes[target] = "refused"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=demote, args=(t,)) for t in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes.values()) == ["demoted", "refused"]
    with app.app_context():
        roles = db.session.scalars(db.select(User.role).order_by(User.id)).all()
    assert sorted(roles) == ["admin", "support"]


def test_a_manager_cannot_change_roles(app, client):
    login_staff(client, app, "manager")
    make_staff(app, "customer", "camille@example.com")
    response = client.post(
        "/admin/staff",
        data={"csrf_token": admin_csrf(client), "email": "camille@example.com", "role": "admin"},
    )
    assert response.status_code == 403
    assert _role(app, "camille@example.com") == "customer"
    assert _audit(app) == []
