"""Customers in the back office: search, lifetime totals, GDPR export and anonymization."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import func, select

from shop.accounts.models import User
from shop.audit.models import AuditLog
from shop.emails import contact
from shop.emails.models import EmailMessage, EmailStatus
from shop.emails.services import queue_email
from shop.extensions import db
from shop.invoices import services as invoices
from shop.invoices.models import Invoice
from shop.invoices.pdf import render_pdf
from shop.orders import fulfilment
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus, Shipment
from shop.outbox.models import OutboxEvent, OutboxStatus
from tests import order_factory
from tests.admin_support import admin_csrf, login_staff
from tests.conftest import PASSWORD, Auth
from tests.outbox_support import deliver_outbox

JEANNE = {**order_factory.ADDRESS, "first_name": "Jeanne", "last_name": "Moreau"}


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@pytest.fixture
def variants(app: Flask) -> dict[int, int]:
    with app.app_context():
        return order_factory.shop_with_stock()


@pytest.fixture
def jeanne(app: Flask, make_user, variants) -> dict[str, int]:
    """A customer with two paid orders (one partly refunded, one with an invoice and its
    PDF), a pending transfer that was then cancelled, and a guest order with her email;
    everything paid has been shipped."""
    user_id = make_user("jeanne@example.com", marketing_consent=True)
    with app.app_context():
        first = order_factory.place(
            [(variants[2], 2)],
            email="jeanne@example.com",
            customer_id=user_id,
            address=JEANNE,
            placed_at=at(2),
        )  # 24,00 €
        second = order_factory.place(
            [(variants[3], 1), (variants[4], 1)],
            email="jeanne@example.com",
            customer_id=user_id,
            address=JEANNE,
            placed_at=at(9),
        )  # 27,00 €
        orders.refund(second, 700, reason="geste commercial")
        invoice = invoices.issue_invoice(first)
        render_pdf(invoice.id)
        cancelled = order_factory.place(
            [(variants[1], 1)],
            email="jeanne@example.com",
            customer_id=user_id,
            address=JEANNE,
            paid=False,
            placed_at=at(10),
        )
        orders.cancel(cancelled)
        guest = order_factory.place(
            [(variants[4], 1)], email="jeanne@example.com", address=JEANNE, placed_at=at(12)
        )  # 14,00 €, placed as a guest before logging in
        for order_id in (first, guest):  # shipped: nothing in progress
            fulfilment.fulfil(order_id, carrier="colissimo", tracking_number="6A 123 456 789 01")
        queue_email("welcome", "jeanne@example.com", "fr")
        db.session.commit()
    return {
        "user": user_id,
        "first": first,
        "second": second,
        "guest": guest,
        "cancelled": cancelled,
    }


def _user_id(app: Flask, email: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def _staff(app: Flask, role: str = "manager") -> FlaskClient:
    client = app.test_client()
    login_staff(client, app, role)
    return client


# -- list and search -------------------------------------------------------------------------


def test_search_by_email_or_by_a_name_from_the_orders(app, jeanne, make_user, hx):
    make_user("paul@example.com")
    client = _staff(app, "support")
    page = client.get("/admin/customers").get_data(as_text=True)
    assert "jeanne@example.com" in page and "paul@example.com" in page
    assert "/admin/customers/" + str(_user_id(app, "support@example.com")) not in page  # staff
    assert "2 clients" in page

    by_name = client.get("/admin/customers?q=moreau", headers=hx())
    text = by_name.get_data(as_text=True)
    assert by_name.status_code == 200
    assert "<html" not in text and 'id="customer-results"' in text  # the fragment only
    assert "jeanne@example.com" in text and "paul@example.com" not in text
    assert "Jeanne Moreau" in text
    assert "58,00\u00a0€" in text  # 24 + (27 - 7) + 14 (guest order): cancelled not counted

    assert "paul@example.com" in client.get("/admin/customers?q=PAUL").get_data(as_text=True)
    none = client.get("/admin/customers?q=jeanne+paul").get_data(as_text=True)
    assert "Aucun client ne correspond" in none
    assert "0 client" in client.get("/admin/customers?q=100%25").get_data(as_text=True)


def test_the_search_form_works_without_javascript(app, jeanne):
    client = _staff(app, "support")
    page = client.get("/admin/customers").get_data(as_text=True)
    assert '<form class="admin-filters" method="get" action="/admin/customers"' in page
    assert 'name="q"' in page and 'hx-get="/admin/customers"' in page


def test_the_list_runs_the_same_queries_for_3_or_30_customers(app, variants, make_user, queries):
    client = _staff(app, "support")

    def customers(count: int, start: int) -> None:
        for i in range(start, start + count):
            user_id = make_user(f"client{i}@example.com")
            with app.app_context():
                order_factory.place(
                    [(variants[2], 1)], email=f"client{i}@example.com", customer_id=user_id
                )

    customers(3, 0)
    with queries() as few:
        assert client.get("/admin/customers").status_code == 200
    customers(27, 3)
    with queries() as many:
        page = client.get("/admin/customers?page=2").get_data(as_text=True)
    assert len(many) == len(few)
    assert "Page 2 sur 2" in page


def test_pages_are_clamped_and_bad_page_numbers_ignored(app, jeanne):
    client = _staff(app, "support")
    assert client.get("/admin/customers?page=abc").status_code == 200
    assert client.get("/admin/customers?page=999").status_code == 200


# -- detail --------------------------------------------------------------------------------


def test_detail_shows_lifetime_totals_orders_addresses_and_consent(app, jeanne, queries):
    client = _staff(app, "support")
    with queries() as statements:
        response = client.get(f"/admin/customers/{jeanne['user']}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    with app.app_context():
        numbers = {
            key: db.session.get(Order, jeanne[key]).number
            for key in ("first", "second", "guest", "cancelled")
        }
    for number in numbers.values():
        assert number in page
    # Placed 4, paid 3 (the cancelled transfer never was): 24 + 20 + 14 = 58... net of the
    # 7 € refund: 24 + 27 - 7 + 14 = 58 €, average 19,33 €.
    assert "<dt>Commandes passées</dt><dd>4</dd>" in page
    assert "<dt>Commandes payées</dt><dd>3</dd>" in page
    assert "<dt>Chiffre d’affaires, net des remboursements</dt><dd>58,00\u00a0€</dd>" in page
    assert "<dt>Panier moyen</dt><dd>19,33\u00a0€</dd>" in page
    assert "<dt>Première commande</dt><dd>2 mars 2026</dd>" in page
    assert "<dt>Dernière commande</dt><dd>12 mars 2026</dd>" in page
    assert "12 rue des Lilas" in page and "+33 6 12 34 56 78" in page
    assert page.count("<address>") == 1  # the same address used four times
    assert "commande invité" in page
    assert 'pill pill-ok">oui</span> depuis' in page  # marketing consent, with its date
    # Support reads customers but does not get the GDPR actions.
    assert "/export" not in page and "/anonymize" not in page
    assert len(statements) <= 12, statements


def test_a_staff_member_or_unknown_id_is_not_a_customer(app):
    client = _staff(app)
    with app.app_context():
        staff_id = db.session.scalar(select(User.id).where(User.email == "manager@example.com"))
    assert client.get(f"/admin/customers/{staff_id}").status_code == 404
    assert client.get("/admin/customers/999999").status_code == 404
    token = admin_csrf(client)
    assert (
        client.post(f"/admin/customers/{staff_id}/export", data={"csrf_token": token}).status_code
        == 404
    )


# -- GDPR export -----------------------------------------------------------------------------


def test_export_streams_a_zip_of_json_files_and_is_audited_without_personal_data(app, jeanne):
    # Her orders' events handled first (mails queued, invoices issued), as the worker would,
    # so that a worker left running by an earlier test cannot add rows during the export.
    deliver_outbox(app)
    with app.app_context():
        mailed = {
            (kind, to)
            for kind, to in db.session.execute(
                select(EmailMessage.kind, EmailMessage.to_address).where(
                    EmailMessage.to_address == "jeanne@example.com"
                )
            )
        }
        issued = sorted(
            (invoice.kind, invoice.data["totals"]["incl"])
            for invoice in db.session.scalars(
                select(Invoice)
                .join(Order, Order.id == Invoice.order_id)
                .where(Order.email == "jeanne@example.com")
            )
        )
    assert ("welcome", "jeanne@example.com") in mailed
    assert ("invoice", 2400) in issued
    client = _staff(app)
    page = client.get(f"/admin/customers/{jeanne['user']}").get_data(as_text=True)
    assert f'action="/admin/customers/{jeanne["user"]}/export"' in page
    response = client.post(
        f"/admin/customers/{jeanne['user']}/export", data={"csrf_token": admin_csrf(client)}
    )
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert response.is_streamed
    assert response.headers["Content-Disposition"].startswith(
        f'attachment; filename="customer-{jeanne["user"]}-'
    )
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    assert archive.namelist() == [
        "account.json",
        "addresses.json",
        "orders.json",
        "invoices.json",
        "carts.json",
        "consent.json",
        "emails.json",
        "contact_messages.json",
    ]
    data = {name: json.loads(archive.read(name)) for name in archive.namelist()}
    assert data["account.json"]["email"] == "jeanne@example.com"
    assert [a["last_name"] for a in data["addresses.json"]] == ["Moreau"]
    assert len(data["orders.json"]) == 4
    second = next(o for o in data["orders.json"] if o["amount_refunded"])
    assert (second["total"], second["amount_refunded"]) == (2700, 700)
    assert [line["quantity"] for line in second["lines"]] == [1, 1]
    assert second["refunds"][0] == {
        **second["refunds"][0],
        "amount": 700,
        "reason": "geste commercial",
    }
    assert second["billing_address"]["last_name"] == "Moreau"
    first = next(
        o for o in data["orders.json"] if o["total"] == 2400 and o["lines"][0]["quantity"] == 2
    )
    assert first["shipments"][0]["carrier"] == "Colissimo"
    assert first["shipments"][0]["tracking_number"] == "6A12345678901"
    assert {item["sku"] for cart in data["carts.json"] for item in cart["items"]} >= {"SKU-2"}
    assert sorted((i["kind"], i["total"]) for i in data["invoices.json"]) == issued
    assert len(data["carts.json"]) == 4  # her three carts, and the guest cart with her email
    assert data["consent.json"]["marketing_email"] is True
    assert {(m["kind"], m["to"]) for m in data["emails.json"]} == mailed
    assert "text_body" not in data["emails.json"][0]  # bodies may hold a reset link
    assert data["contact_messages.json"] == []
    with app.app_context():
        entry = db.session.scalars(select(AuditLog)).one()
        assert (entry.action, entry.entity_type, entry.entity_id) == (
            "customer.export",
            "user",
            str(jeanne["user"]),
        )
        assert "jeanne" not in json.dumps([entry.before, entry.after]).lower()


# -- anonymization ---------------------------------------------------------------------------


def test_the_confirm_page_says_what_is_erased_and_that_invoices_stay(app, jeanne):
    client = _staff(app)
    page = client.get(f"/admin/customers/{jeanne['user']}/anonymize").get_data(as_text=True)
    assert "Les factures et les avoirs restent exactement tels qu’émis" in page
    assert "242 nonies A" in page
    assert "Cette action est irréversible." in page
    assert 'name="confirm"' in page


def test_anonymizing_without_ticking_the_box_changes_nothing(app, jeanne):
    client = _staff(app)
    before = _snapshot(app, jeanne["user"])
    response = client.post(
        f"/admin/customers/{jeanne['user']}/anonymize", data={"csrf_token": admin_csrf(client)}
    )
    assert response.status_code == 422
    assert "Cochez la case pour confirmer l’anonymisation." in response.get_data(as_text=True)
    assert _snapshot(app, jeanne["user"]) == before
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditLog.id))) == 0


def _snapshot(app: Flask, user_id: int) -> tuple:
    with app.app_context():
        user = db.session.get(User, user_id)
        rows = db.session.execute(
            select(Order.email, Order.shipping_address, Order.billing_address).order_by(Order.id)
        ).all()
        return (user.email, user.password_hash, user.anonymized_at, [tuple(r) for r in rows])


def test_anonymize_scrubs_the_person_keeps_orders_and_invoices_and_blocks_login(app, jeanne, hx):
    # The first order's invoice (a worker left running may issue the other paid orders' own).
    first_invoice = select(Invoice).where(
        Invoice.order_id == jeanne["first"], Invoice.kind == "invoice"
    )
    with app.app_context():
        invoice = db.session.scalars(first_invoice).one()
        invoice_before = (invoice.full_number, invoice.data, invoice.pdf_path, invoice.sha256)
        totals_before = db.session.execute(
            select(
                Order.id, Order.number, Order.status, Order.total, Order.amount_refunded
            ).order_by(Order.id)
        ).all()
    shopper = app.test_client()
    Auth(shopper).login("jeanne@example.com")
    assert shopper.get("/fr/compte/").status_code == 200
    client = _staff(app)
    url = f"/admin/customers/{jeanne['user']}/anonymize"
    response = client.post(
        url, data={"csrf_token": admin_csrf(client), "confirm": "y"}, headers=hx()
    )
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"/admin/customers/{jeanne['user']}"
    placeholder = f"anonymized-{jeanne['user']}@anonymized.invalid"
    with app.app_context():
        user = db.session.get(User, jeanne["user"])
        assert user.email == placeholder
        assert user.anonymized_at is not None
        assert user.marketing_consent is False and user.marketing_consent_at is None
        assert not user.password_hash.startswith("$argon2")
        for order in db.session.scalars(select(Order)):
            assert order.email == placeholder
            for address in (order.shipping_address, order.billing_address):
                assert address["country"] == "FR"
                assert {k: v for k, v in address.items() if k not in ("country", "region")} == {
                    k: "" for k in address if k not in ("country", "region")
                }
        assert (
            db.session.execute(
                select(
                    Order.id, Order.number, Order.status, Order.total, Order.amount_refunded
                ).order_by(Order.id)
            ).all()
            == totals_before
        )
        invoice = db.session.scalars(first_invoice).one()
        assert (
            invoice.full_number,
            invoice.data,
            invoice.pdf_path,
            invoice.sha256,
        ) == invoice_before
        assert invoice.data["buyer"]["name"] == "Jeanne Moreau"  # legal obligation: untouched
        assert {
            (s.carrier, s.tracking_number, s.tracking_url)
            for s in db.session.scalars(select(Shipment))
        } == {("colissimo", "", None)}
        mails = db.session.scalars(select(EmailMessage)).all()
        assert not [m for m in mails if "jeanne" in m.to_address + m.text_body + m.html_body]
        scrubbed = [m for m in mails if m.to_address == placeholder]
        assert scrubbed and all(m.text_body == m.html_body == "" for m in scrubbed)
        # The welcome mail was still waiting: it is never sent now.
        assert {m.status for m in scrubbed} == {EmailStatus.FAILED}
        assert [m.to_address for m in mails if m not in scrubbed] in ([], ["manager@example.com"])
        entry = db.session.scalars(select(AuditLog)).one()
        assert (entry.action, entry.entity_id, entry.before, entry.after) == (
            "customer.anonymize",
            str(jeanne["user"]),
            {"anonymized": False},
            {"anonymized": True},
        )
    # Her open session is over, and she cannot log in again.
    assert shopper.get("/fr/compte/").status_code in (302, 303)
    refused = Auth(app.test_client()).login("jeanne@example.com")
    assert refused.status_code != 303
    assert Auth(app.test_client()).login(placeholder, PASSWORD).status_code != 303
    page = client.get(f"/admin/customers/{jeanne['user']}").get_data(as_text=True)
    assert "anonymisé" in page and "Moreau" not in page and "/anonymize" not in page
    assert "58,00\u00a0€" in page  # the figures stay
    again = client.post(url, data={"csrf_token": admin_csrf(client), "confirm": "y"})
    assert again.status_code == 409
    assert "Ce client a déjà été anonymisé." in again.get_data(as_text=True)


def _write_from_the_contact_page(app: Flask, email: str, text: str) -> None:
    name = "Paul Durand" if email.startswith("paul") else "Jeanne Moreau"
    with app.app_context(), force_locale("fr"):
        contact.send_contact_message(
            name=name, email=email, subject="Ma commande", message=text, locale="fr"
        )


def test_contact_messages_are_exported_then_scrubbed_with_the_customer(app, jeanne):
    _write_from_the_contact_page(app, "Jeanne@Example.com", "J’habite 12 rue des Lilas.")
    deliver_outbox(app)  # mailed to the shop
    _write_from_the_contact_page(app, "jeanne@example.com", "Toujours rien reçu.")  # waiting
    _write_from_the_contact_page(app, "paul@example.com", "Bonjour de Paul.")  # someone else
    client = _staff(app)
    exported = client.post(
        f"/admin/customers/{jeanne['user']}/export", data={"csrf_token": admin_csrf(client)}
    )
    archive = zipfile.ZipFile(io.BytesIO(exported.get_data()))
    messages = json.loads(archive.read("contact_messages.json"))
    assert [m["message"] for m in messages] == [
        "J’habite 12 rue des Lilas.",
        "Toujours rien reçu.",
    ]
    response = client.post(
        f"/admin/customers/{jeanne['user']}/anonymize",
        data={"csrf_token": admin_csrf(client), "confirm": "y"},
    )
    assert response.status_code == 303
    placeholder = f"anonymized-{jeanne['user']}@anonymized.invalid"
    with app.app_context():
        events = db.session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == contact.EVENT).order_by(OutboxEvent.id)
        ).all()
        assert [(e.payload["email"], e.payload["message"], e.status) for e in events] == [
            (placeholder, "", OutboxStatus.DONE),
            (placeholder, "", OutboxStatus.DEAD),  # never mailed now
            ("paul@example.com", "Bonjour de Paul.", OutboxStatus.PENDING),
        ]
        assert "Moreau" not in json.dumps([e.payload for e in events])
        to_shop = db.session.scalars(
            select(EmailMessage).where(EmailMessage.kind == "contact_message")
        ).all()
        assert len(to_shop) == 1  # the first one, mailed before the erasure
        assert to_shop[0].to_address != placeholder  # still the shop's
        assert (to_shop[0].subject, to_shop[0].text_body, to_shop[0].html_body) == ("", "", "")
    deliver_outbox(app)
    with app.app_context():
        bodies = db.session.scalars(
            select(EmailMessage.text_body).where(EmailMessage.kind == "contact_message")
        ).all()
        assert len(bodies) == 2 and "Bonjour de Paul." in "".join(bodies)  # only Paul's
        assert "Lilas" not in "".join(bodies) and "rien reçu" not in "".join(bodies)


def test_anonymize_waits_for_orders_in_progress(app, make_user, variants):
    user_id = make_user("lea@example.com")
    with app.app_context():
        pending = order_factory.place(
            [(variants[2], 1)], email="lea@example.com", customer_id=user_id, paid=False
        )
        number = db.session.get(Order, pending).number
    before = _snapshot(app, user_id)
    client = _staff(app)
    response = client.post(
        f"/admin/customers/{user_id}/anonymize",
        data={"csrf_token": admin_csrf(client), "confirm": "y"},
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "commandes encore en cours" in text and number in text
    assert "checked" in text  # the input is kept
    assert _snapshot(app, user_id) == before
    with app.app_context():
        assert db.session.get(Order, pending).status == OrderStatus.PENDING_PAYMENT
        assert db.session.scalar(select(func.count(AuditLog.id))) == 0


def test_support_may_read_customers_but_not_export_or_anonymize(app, jeanne):
    client = _staff(app, "support")
    token = admin_csrf(client)
    before = _snapshot(app, jeanne["user"])
    assert (
        client.post(
            f"/admin/customers/{jeanne['user']}/export", data={"csrf_token": token}
        ).status_code
        == 403
    )
    response = client.post(
        f"/admin/customers/{jeanne['user']}/anonymize", data={"csrf_token": token, "confirm": "y"}
    )
    assert response.status_code == 403
    assert _snapshot(app, jeanne["user"]) == before


def test_an_unsubscribed_customer_shows_as_such_in_the_page_and_the_export(app, make_user):
    from shop.emails import suppression

    user_id = make_user("lucie@example.com", marketing_consent=True)
    with app.app_context():
        suppression.unsubscribe("Lucie@example.com")
        db.session.commit()
    client = _staff(app)
    page = client.get(f"/admin/customers/{user_id}").get_data(as_text=True)
    assert '<dt>E-mails marketing</dt><dd><span class="pill pill-warn">désinscrit</span>' in page
    assert '<span class="pill">non</span>' in page  # the consent went with it
    response = client.post(
        f"/admin/customers/{user_id}/export", data={"csrf_token": admin_csrf(client)}
    )
    consent = json.loads(zipfile.ZipFile(io.BytesIO(response.get_data())).read("consent.json"))
    assert consent["unsubscribed_from_marketing"] is True
    assert consent["marketing_email"] is False
