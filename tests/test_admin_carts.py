"""Abandoned carts in the back office: the list and "send the next reminder now"."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from shop.audit.models import AuditLog
from shop.cart.models import Cart, CartItem, CartRecoveryEmail, CartStatus
from shop.clock import utcnow
from shop.emails.models import EmailMessage
from shop.extensions import db
from tests import order_factory
from tests.admin_support import admin_csrf, login_staff


@pytest.fixture
def variants(app: Flask) -> dict[int, int]:
    with app.app_context():
        return order_factory.shop_with_stock()


def abandoned(
    app: Flask,
    variants: dict[int, int],
    *,
    hours: float,
    email: str | None = None,
    customer_id: int | None = None,
    items: tuple[tuple[int, int], ...] = ((2, 1),),
    step: int = 0,
) -> int:
    """An abandoned cart idle for ``hours``, holding (product index, quantity) ``items``."""
    with app.app_context():
        idle = utcnow() - timedelta(hours=hours)
        cart = Cart(
            token=secrets.token_urlsafe(16),
            email=email,
            customer_id=customer_id,
            status=CartStatus.ABANDONED,
            last_activity_at=idle,
            abandoned_at=idle + timedelta(hours=1),
            recovery_step=step,
        )
        cart.items = [CartItem(variant_id=variants[i], quantity=q, unit_price=0) for i, q in items]
        db.session.add(cart)
        db.session.commit()
        return cart.id


def _manager(app: Flask, locale: str = "fr") -> FlaskClient:
    client = app.test_client()
    login_staff(client, app, "manager")
    if locale != "fr":
        client.post(
            "/admin/language",
            data={"csrf_token": admin_csrf(client), "locale": locale, "next": "/admin/"},
        )
    return client


def _counts(app: Flask) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (CartRecoveryEmail, EmailMessage, AuditLog)
        )  # type: ignore[return-value]


def test_the_list_shows_value_recency_items_and_reminders(app, variants, make_user):
    customer = make_user("ines@example.com", marketing_consent=True)
    fresh = abandoned(app, variants, hours=2, customer_id=customer, items=((2, 2), (3, 1)))
    old = abandoned(app, variants, hours=48, email="guest@example.com")
    with app.app_context():
        db.session.add(
            CartRecoveryEmail(
                cart_id=old, step=1, to_address="guest@example.com", queued_at=utcnow()
            )
        )
        db.session.get(Cart, old).recovery_step = 1
        db.session.commit()
    abandoned_elsewhere = abandoned(app, variants, hours=3, email="x@example.com")
    with app.app_context():
        db.session.get(Cart, abandoned_elsewhere).status = CartStatus.ACTIVE
        db.session.commit()
    page = _manager(app).get("/admin/carts").get_data(as_text=True)
    assert "2 paniers abandonnés" in page
    assert page.index(f'id="cart-{fresh}"') < page.index(f'id="cart-{old}"')  # freshest first
    assert f'href="/admin/customers/{customer}">ines@example.com</a>' in page
    assert "2 × Chaise en chêne n°\u00a02" in page and "1 × Table en chêne n°\u00a03" in page
    assert "37,00\u00a0€" in page  # 2 × 12 € + 13 €
    assert '<span class="pill pill-ok">94</span>' in page  # 100 × 0.5^(2/24)
    assert '<span class="pill pill-warn">25</span>' in page  # two days: a quarter
    assert "Relance 1" in page and "Envoyer la relance 2 maintenant" in page
    assert f"/admin/carts/{fresh}/send" in page
    assert "x@example.com" not in page


def test_the_list_runs_the_same_queries_for_3_or_20_carts(app, variants, queries):
    client = _manager(app)
    for i in range(3):
        abandoned(app, variants, hours=2 + i, email=f"a{i}@example.com", items=((2, 1), (3, 1)))
    with queries() as few:
        assert client.get("/admin/carts").status_code == 200
    for i in range(3, 20):
        abandoned(app, variants, hours=2 + i, email=f"a{i}@example.com", items=((2, 1), (4, 2)))
    with queries() as many:
        assert client.get("/admin/carts").status_code == 200
    assert len(many) == len(few)


def test_search_by_address_as_you_type(app, variants, hx):
    abandoned(app, variants, hours=2, email="louise@example.com")
    abandoned(app, variants, hours=2, email="marc@example.com")
    response = _manager(app).get("/admin/carts?q=LOU", headers=hx())
    text = response.get_data(as_text=True)
    assert "<html" not in text and 'id="cart-results"' in text
    assert "louise@example.com" in text and "marc@example.com" not in text


def test_send_now_queues_the_next_reminder_and_is_audited(app, variants, make_user, hx):
    customer = make_user("ines@example.com", marketing_consent=True)
    cart_id = abandoned(app, variants, hours=2, customer_id=customer)
    client = _manager(app)
    response = client.post(
        f"/admin/carts/{cart_id}/send", data={"csrf_token": admin_csrf(client)}, headers=hx()
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert text.lstrip().startswith('<section id="cart-results"')
    assert "La relance 1 est partie." in text
    assert "Envoyer la relance 2 maintenant" in text
    with app.app_context():
        sent = db.session.scalars(select(CartRecoveryEmail)).one()
        assert (sent.cart_id, sent.step, sent.to_address) == (cart_id, 1, "ines@example.com")
        assert db.session.get(EmailMessage, sent.email_id).to_address == "ines@example.com"
        entry = db.session.scalars(select(AuditLog)).one()
        assert (entry.action, entry.entity_type, entry.entity_id) == (
            "cart.recovery_send",
            "cart",
            str(cart_id),
        )
        assert (entry.before, entry.after) == ({"recovery_step": 0}, {"recovery_step": 1})


def test_send_now_without_javascript_comes_back_to_the_list(app, variants, make_user):
    customer = make_user("ines@example.com", marketing_consent=True)
    cart_id = abandoned(app, variants, hours=30, customer_id=customer, step=1)
    client = _manager(app)
    before = _counts(app)
    response = client.post(
        f"/admin/carts/{cart_id}/send?page=1", data={"csrf_token": admin_csrf(client)}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/carts"
    assert "La relance 2 est partie." in client.get("/admin/carts").get_data(as_text=True)
    assert _counts(app) == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_a_refused_reminder_says_why_and_changes_nothing(app, variants, hx):
    cart_id = abandoned(app, variants, hours=2, email="guest@example.com")  # no consent
    client = _manager(app, locale="en")
    before = _counts(app)
    response = client.post(
        f"/admin/carts/{cart_id}/send", data={"csrf_token": admin_csrf(client)}, headers=hx()
    )
    assert response.status_code == 409
    assert "This shopper has not agreed to receive reminders by email." in response.get_data(
        as_text=True
    )
    plain = client.post(f"/admin/carts/{cart_id}/send", data={"csrf_token": admin_csrf(client)})
    assert plain.status_code == 409
    assert "This shopper has not agreed" in plain.get_data(as_text=True)
    assert "<html" in plain.get_data(as_text=True)  # the whole list, with the message
    assert _counts(app) == before
    with app.app_context():
        assert db.session.get(Cart, cart_id).recovery_step == 0
        assert (
            db.session.scalar(
                select(func.count(AuditLog.id)).where(AuditLog.action == "cart.recovery_send")
            )
            == 0
        )


def test_support_sees_no_abandoned_carts(app, variants):
    cart_id = abandoned(app, variants, hours=2, email="guest@example.com")
    client = app.test_client()
    login_staff(client, app, "support")
    assert client.get("/admin/carts").status_code == 403
    before = _counts(app)
    token = admin_csrf(client)
    assert (
        client.post(f"/admin/carts/{cart_id}/send", data={"csrf_token": token}).status_code == 403
    )
    assert _counts(app) == before
