"""Failed deliveries in the back office: dead and failed outbox events and emails the worker
gave up on, listed and retried (audited); the real worker then delivers them."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from flask import Flask

from shop.audit.models import AuditLog
from shop.checkout import services as checkout
from shop.clock import utcnow
from shop.emails.models import EmailMessage, EmailStatus
from shop.extensions import db
from shop.outbox.models import OutboxEvent, OutboxStatus
from tests.admin_support import admin_csrf, login_staff
from tests.test_orders import _cart, _details, _variant_of

LATER = timedelta(days=1)  # out of reach of the worker's periodic sweep


@pytest.fixture
def shop(app):
    from shop.checkout.defaults import load_defaults
    from tests import catalogue_factory

    with app.app_context():
        ids = catalogue_factory.build(4)
        load_defaults()
        db.session.commit()
    return ids


@pytest.fixture
def worker(app, rq_worker):
    """The real worker, without the backlog of jobs earlier tests left in Redis (they name
    rows those tests' clean-up removed; at a fork per job they could outlast our waits)."""
    from shop import queue

    queue.queue(app).empty()
    return rq_worker


def _order(app: Flask, shop, email: str) -> int:
    with app.app_context():
        cart_id = _cart(_variant_of(shop["products"][2]))
        checkout.start_checkout(cart_id)
        return checkout.place_order(cart_id, _details(email)).id


def _event(app: Flask, type_: str = "probe", status: str = OutboxStatus.DEAD, **fields) -> int:
    defaults = {
        "payload": {"order_id": 0},
        "attempts": 8,
        "last_error": "SMTPServerDisconnected: Connection unexpectedly closed",
        "next_retry_at": utcnow() + LATER,
        "processed_at": utcnow() if status == OutboxStatus.DEAD else None,
    }
    with app.app_context():
        event = OutboxEvent(type=type_, status=status, **{**defaults, **fields})
        db.session.add(event)
        db.session.commit()
        return event.id


def _email(app: Flask, to: str, status: str = EmailStatus.FAILED) -> int:
    with app.app_context():
        message = EmailMessage(
            kind="welcome",
            to_address=to,
            locale="fr",
            subject="Bienvenue chez Comptoir",
            text_body="Bienvenue !",
            html_body="<p>Bienvenue !</p>",
            message_id=f"<welcome.retry.{to.split('@')[0]}@comptoir.example.com>",
            status=status,
            attempts=8,
            last_error="SMTPRecipientsRefused: {}",
        )
        db.session.add(message)
        db.session.commit()
        return message.id


def _status(app: Flask, model, row_id: int) -> tuple:
    with app.app_context():
        row = db.session.get(model, row_id)
        return row.status, row.attempts, row.last_error


def _wait_status(app: Flask, model, row_id: int, status: str, timeout: float = 20) -> tuple:
    deadline = time.monotonic() + timeout
    while (current := _status(app, model, row_id))[0] != status:
        assert time.monotonic() < deadline, current
        time.sleep(0.1)
    return current


def _audit(app: Flask) -> list[tuple]:
    with app.app_context():
        return [
            (e.action, e.entity_type, e.entity_id, e.before, e.after)
            for e in db.session.scalars(db.select(AuditLog).order_by(AuditLog.id))
        ]


def _event_rows(html: str) -> list[str]:
    return re.findall(r'<tr id="event-(\d+)">', html)


def test_the_list_shows_dead_events_and_failed_emails(app, client):
    login_staff(client, app, "manager")
    dead = _event(app, "order_paid", payload={"order_id": 12, "amount": 1500})
    failed = _event(app, "order_placed", status=OutboxStatus.FAILED, attempts=3)
    _event(app, "order_placed", status=OutboxStatus.DONE, attempts=0, last_error=None)
    _event(app, "order_placed", status=OutboxStatus.PENDING, attempts=0, last_error=None)
    email_id = _email(app, "camille@example.com")
    _email(app, "sent@example.com", status=EmailStatus.SENT)

    html = client.get("/admin/outbox").get_data(as_text=True)
    assert _event_rows(html) == [str(dead)]
    row = html[html.index(f'<tr id="event-{dead}">') :]
    row = row[: row.index("</tr>")]
    assert "<code>order_paid</code>" in row
    assert '<td class="num">8</td>' in row
    assert "SMTPServerDisconnected: Connection unexpectedly closed" in row
    assert "amount=1500, order_id=12" in row
    assert "Abandonné" in row
    assert "1 événement" in html and "Relancer tous les événements abandonnés" in html
    assert f'<tr id="email-{email_id}">' in html and "sent@example.com" not in html
    assert "1 e-mail abandonné" in html

    html = client.get("/admin/outbox?status=failed").get_data(as_text=True)
    assert _event_rows(html) == [str(failed)]
    assert "En échec, nouvel essai prévu" in html
    assert "Relancer tous les événements abandonnés" not in html


def test_a_retried_dead_event_is_delivered_by_the_worker(app, shop, client, mailbox, worker):
    manager_id = login_staff(client, app, "manager")
    order_id = _order(app, shop, "retry.dead@example.com")
    mailbox.wait_for("retry.dead@example.com")  # the confirmation of the order itself
    dead = _event(app, "order_placed", payload={"order_id": order_id})

    response = client.post(f"/admin/outbox/{dead}/retry", data={"csrf_token": admin_csrf(client)})
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/outbox"

    messages = mailbox.wait_for("retry.dead@example.com", count=2)
    assert messages[1]["Message-ID"] == f"<order_placed.{dead}@comptoir.example.com>"
    # Delivered: done, the error cleared, its attempts kept as history.
    assert _wait_status(app, OutboxEvent, dead, OutboxStatus.DONE) == ("done", 8, None)
    with app.app_context():
        [entry] = db.session.scalars(db.select(AuditLog)).all()
        assert (entry.actor_id, entry.action, entry.entity_type, entry.entity_id) == (
            manager_id,
            "outbox.retry",
            "outbox_event",
            str(dead),
        )
        assert (entry.before, entry.after) == ({"status": "dead"}, {"status": "pending"})
    page = client.get("/admin/outbox").get_data(as_text=True)
    assert "L’événement nº" in page and _event_rows(page) == []


def test_retry_all_dead_events(app, shop, client, mailbox, worker):
    login_staff(client, app, "admin")
    order_id = _order(app, shop, "retry.all@example.com")
    mailbox.wait_for("retry.all@example.com")
    dead = [_event(app, "order_placed", payload={"order_id": order_id}) for _ in range(3)]
    failed = _event(app, "order_placed", status=OutboxStatus.FAILED, attempts=2)

    response = client.post("/admin/outbox/retry-dead", data={"csrf_token": admin_csrf(client)})
    assert response.status_code == 303
    assert "3 événements ont été relancés." in client.get("/admin/outbox").get_data(as_text=True)

    messages = mailbox.wait_for("retry.all@example.com", count=4)
    assert sorted(m["Message-ID"] for m in messages[1:]) == sorted(
        f"<order_placed.{event_id}@comptoir.example.com>" for event_id in dead
    )
    for event_id in dead:
        _wait_status(app, OutboxEvent, event_id, OutboxStatus.DONE)
    assert _status(app, OutboxEvent, failed)[0] == OutboxStatus.FAILED  # not dead: untouched
    assert _audit(app) == [
        ("outbox.retry", "outbox_event", str(e), {"status": "dead"}, {"status": "pending"})
        for e in dead
    ]
    # Nothing left: said so, nothing written.
    response = client.post("/admin/outbox/retry-dead", data={"csrf_token": admin_csrf(client)})
    assert "Il n’y avait aucun événement abandonné à relancer." in client.get(
        "/admin/outbox"
    ).get_data(as_text=True)
    assert len(_audit(app)) == 3


def test_a_retried_failed_email_is_sent_by_the_worker(app, client, mailbox, worker):
    login_staff(client, app, "manager")
    email_id = _email(app, "retry.email@example.com")
    response = client.post(
        f"/admin/outbox/emails/{email_id}/retry", data={"csrf_token": admin_csrf(client)}
    )
    assert response.status_code == 303
    [message] = mailbox.wait_for("retry.email@example.com")
    assert message["Message-ID"] == "<welcome.retry.retry.email@comptoir.example.com>"
    assert _wait_status(app, EmailMessage, email_id, EmailStatus.SENT) == ("sent", 9, None)
    assert _audit(app) == [
        ("email.retry", "email", str(email_id), {"status": "failed"}, {"status": "pending"})
    ]


def test_htmx_retry_swaps_the_row(app, client, hx):
    login_staff(client, app, "manager")
    dead = _event(app, "probe_without_handler")
    token = admin_csrf(client)
    response = client.post(f"/admin/outbox/{dead}/retry", headers=hx(**{"X-CSRFToken": token}))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.startswith(f'<tr id="event-{dead}">') and "Relancé" in body
    assert "<form" not in body
    assert _status(app, OutboxEvent, dead)[0] in (OutboxStatus.PENDING, OutboxStatus.DONE)


@pytest.mark.parametrize("status", [OutboxStatus.DONE, OutboxStatus.PENDING])
def test_an_event_not_waiting_for_a_retry_is_refused(app, client, status):
    login_staff(client, app, "manager")
    event_id = _event(app, status=status, attempts=0, last_error=None)
    response = client.post(
        f"/admin/outbox/{event_id}/retry", data={"csrf_token": admin_csrf(client)}
    )
    assert response.status_code == 409
    assert "Cet événement n’attend plus de nouvel essai" in response.get_data(as_text=True)
    assert _status(app, OutboxEvent, event_id) == (status, 0, None)
    assert _audit(app) == []


def test_a_sent_email_or_a_missing_row_is_refused(app, client):
    login_staff(client, app, "manager")
    email_id = _email(app, "done@example.com", status=EmailStatus.SENT)
    token = admin_csrf(client)
    response = client.post(f"/admin/outbox/emails/{email_id}/retry", data={"csrf_token": token})
    assert response.status_code == 409
    assert "Cet e-mail n’attend plus de nouvel essai" in response.get_data(as_text=True)
    assert _status(app, EmailMessage, email_id)[0] == EmailStatus.SENT
    assert client.post("/admin/outbox/999999/retry", data={"csrf_token": token}).status_code == 404
    assert _audit(app) == []


def test_support_staff_cannot_retry(app, client):
    login_staff(client, app, "support")
    dead = _event(app)
    assert client.get("/admin/outbox").status_code == 403
    response = client.post(f"/admin/outbox/{dead}/retry", data={"csrf_token": admin_csrf(client)})
    assert response.status_code == 403
    assert _status(app, OutboxEvent, dead)[0] == OutboxStatus.DEAD
    assert _audit(app) == []


def test_the_list_runs_a_fixed_number_of_queries(app, client, queries):
    login_staff(client, app, "manager")
    for _ in range(2):
        _event(app)
    _email(app, "one@example.com")
    with queries() as few:
        assert client.get("/admin/outbox").status_code == 200
    for _ in range(30):
        _event(app)
    for i in range(10):
        _email(app, f"more{i}@example.com")
    with queries() as many:
        page = client.get("/admin/outbox")
    assert len(_event_rows(page.get_data(as_text=True))) == 32
    assert len(many) == len(few) <= 6
