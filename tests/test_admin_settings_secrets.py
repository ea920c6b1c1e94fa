"""Stripe and SMTP settings in the back office: secrets encrypted at rest, never shown, never
logged, audited without their value, and actually used by the payment gateway, the webhook
endpoint, the SMTP transport and the worker process (database first, environment second)."""

from __future__ import annotations

import json
import logging
import re
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from flask import Flask
from flask.testing import FlaskClient

from shop.audit.models import AuditLog
from shop.extensions import db
from shop.payments import stripe_gateway
from shop.platform import crypto
from shop.platform.models import PlatformConfig
from tests import services
from tests.admin_support import admin_csrf, login_staff
from tests.test_payments import CARD_OK, attempt, card_method, place_pending_order
from tests.test_webhooks import sign

# Unique per run: finding one of them anywhere is a leak, not a coincidence.
STRIPE_SECRET = f"sk_test_{secrets.token_hex(12)}"
WEBHOOK_SECRET = f"whsec_{secrets.token_hex(16)}"
SMTP_PASSWORD = f"Pw{secrets.token_hex(10)}"
PUBLISHABLE = "pk_test_comptoiradmin"
SMTP_USER = "boutique"
HX = {"HX-Request": "true"}


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    login_staff(client, app, "admin")
    return client


class _Accounts:
    """aiosmtpd's authenticator: one account, as a provider's submission server has."""

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (SMTP_USER, SMTP_PASSWORD)
        return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def smtp_with_login() -> Iterator[tuple[int, services.Mailbox]]:
    """A real SMTP server with accounts (AUTH over a plain connection, as a local relay may
    offer): a wrong password is refused."""
    mailbox = services.Mailbox()
    port = services.free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_Accounts(),
        auth_require_tls=False,
    )
    controller.start()
    yield port, mailbox
    controller.stop()


def _save_stripe(admin: FlaskClient, **fields: str):
    data = {"publishable_key": PUBLISHABLE, "secret_key": STRIPE_SECRET}
    data["webhook_secret"] = WEBHOOK_SECRET
    data.update(fields)
    return admin.post("/admin/settings/payment", data={**data, "csrf_token": admin_csrf(admin)})


def _save_smtp(admin: FlaskClient, smtp_port: int, **fields: str):
    data = {
        "host": "127.0.0.1",
        "security": "smtp",
        "port": str(smtp_port),
        "username": SMTP_USER,
        "password": SMTP_PASSWORD,
        "mail_from": "Comptoir Ventes <ventes@comptoir.example.com>",
        **fields,
    }
    return admin.post("/admin/settings/email", data={**data, "csrf_token": admin_csrf(admin)})


def _row(app: Flask, key: str) -> PlatformConfig | None:
    with app.app_context():
        row = db.session.get(PlatformConfig, key)
        if row is not None:
            db.session.expunge(row)
        return row


def _audit(app: Flask) -> list[AuditLog]:
    with app.app_context():
        return list(db.session.scalars(db.select(AuditLog).order_by(AuditLog.id)))


# -- Stripe ----------------------------------------------------------------------------------


def test_stripe_keys_are_encrypted_at_rest_masked_and_audited_without_their_value(app, admin):
    response = _save_stripe(admin)

    assert response.status_code == 303
    for key, plain in (
        ("stripe_secret_key", STRIPE_SECRET),
        ("stripe_webhook_secret", WEBHOOK_SECRET),
    ):
        row = _row(app, key)
        assert row.encrypted is True
        assert plain not in row.value
        with app.app_context():
            assert crypto.decrypt(row.value) == plain
    publishable = _row(app, "stripe_publishable_key")
    assert (publishable.value, publishable.encrypted) == (PUBLISHABLE, False)
    [entry] = _audit(app)
    assert (entry.action, entry.entity_type, entry.entity_id) == (
        "settings.update",
        "settings",
        "payment",
    )
    assert entry.after == {
        "stripe_publishable_key": PUBLISHABLE,
        "stripe_secret_key": "[redacted]",
        "stripe_webhook_secret": "[redacted]",
    }
    assert entry.before["stripe_secret_key"] == "[redacted]"
    page = admin.get("/admin/settings/payment").get_data(as_text=True)
    assert crypto.mask(STRIPE_SECRET) in page  # the last four characters, at most
    assert STRIPE_SECRET not in page and WEBHOOK_SECRET not in page
    assert page.count("Enregistrée ici") == 3
    assert 'value="pk_test_comptoiradmin"' in page
    assert 'value=""' in re.search(r'<input[^>]*name="secret_key"[^>]*>', page).group(0)


def test_empty_secret_inputs_keep_the_saved_keys(app, admin):
    _save_stripe(admin)
    cipher = _row(app, "stripe_secret_key").value

    response = admin.post(
        "/admin/settings/payment",
        data={"publishable_key": "pk_test_autrecle", "csrf_token": admin_csrf(admin)},
        headers=HX,
    )

    assert response.status_code == 200
    assert "Paramètres enregistrés." in response.get_data(as_text=True)
    assert _row(app, "stripe_secret_key").value == cipher
    assert _row(app, "stripe_publishable_key").value == "pk_test_autrecle"
    assert _audit(app)[-1].after == {"stripe_publishable_key": "pk_test_autrecle"}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"secret_key": "pk_test_abcdefgh"}, "secret_key", "Une clé secrète commence par"),
        ({"publishable_key": "sk_test_abcdefgh"}, "publishable_key", "commence par pk_live_"),
        ({"webhook_secret": "secret"}, "webhook_secret", "commence par whsec_."),
        (
            {"secret_key": "sk_live_abcdefgh1234"},
            "publishable_key",
            "toutes deux de test ou toutes deux de production",
        ),
    ],
)
def test_bad_stripe_keys_are_refused_and_not_echoed(app, admin, fields, field, message):
    response = _save_stripe(admin, **fields)

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in re.search(rf'id="{field}-error">([^<]+)<', html).group(1)
    assert STRIPE_SECRET not in html and WEBHOOK_SECRET not in html
    assert fields.get("secret_key", "-") not in html or field != "secret_key"
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(PlatformConfig.key))) == 0
    assert _audit(app) == []


def test_an_empty_payment_form_is_a_422_and_forgetting_removes_the_keys(app, admin):
    empty = admin.post("/admin/settings/payment", data={"csrf_token": admin_csrf(admin)})
    assert empty.status_code == 422
    assert "Saisissez une clé à enregistrer" in empty.get_data(as_text=True)

    _save_stripe(admin)
    forget = admin.post(
        "/admin/settings/payment", data={"forget": "y", "csrf_token": admin_csrf(admin)}
    )
    assert forget.status_code == 303
    assert _row(app, "stripe_secret_key") is None
    assert _audit(app)[-1].before == {
        "stripe_publishable_key": "saved",
        "stripe_secret_key": "saved",
        "stripe_webhook_secret": "saved",
    }
    assert _audit(app)[-1].after == {
        "stripe_publishable_key": None,
        "stripe_secret_key": None,
        "stripe_webhook_secret": None,
    }
    page = admin.get("/admin/settings/payment").get_data(as_text=True)
    assert page.count("Environnement du serveur") == 3  # back to the test environment's


def test_card_payment_and_webhooks_use_the_keys_saved_in_the_admin(app, test_env):
    """A shop whose environment has no Stripe keys: card payment appears once an admin saves
    them, the payment page's policy lets Stripe.js in, and the gateway and the webhook
    endpoint use the saved keys."""
    from shop import create_app
    from shop.orders import services as orders
    from shop.orders.models import Order

    unset = {"STRIPE_SECRET_KEY": "", "STRIPE_PUBLISHABLE_KEY": "", "STRIPE_WEBHOOK_SECRET": ""}
    shop = create_app({**test_env, **unset})
    try:
        admin = shop.test_client()
        login_staff(admin, shop, "admin")
        with shop.app_context():
            assert stripe_gateway.enabled() is False
            order_id = place_pending_order()
            token = orders.access_token(db.session.get(Order, order_id))
        before = admin.get(f"/fr/commande/{token}/payer")
        assert "data-key" not in before.get_data(as_text=True)
        assert test_env["STRIPE_API_BASE"] not in before.headers["Content-Security-Policy"]

        assert _save_stripe(admin).status_code == 303

        page = admin.get(f"/fr/commande/{token}/payer")
        assert f'data-key="{PUBLISHABLE}"' in page.get_data(as_text=True)
        policy = page.headers["Content-Security-Policy"]
        assert f"script-src 'self' {test_env['STRIPE_API_BASE']}" in policy
        # Other pages keep the strict policy.
        assert (
            test_env["STRIPE_API_BASE"] not in admin.get("/fr/").headers["Content-Security-Policy"]
        )
        with shop.app_context():
            assert stripe_gateway.enabled() is True
            own = stripe.StripeClient(
                STRIPE_SECRET, base_addresses={"api": test_env["STRIPE_API_BASE"]}
            )
            outcome = stripe_gateway.pay_by_card(order_id, card_method(own, CARD_OK), attempt())
            assert outcome.status == stripe_gateway.SUCCEEDED
            intent = own.v1.payment_intents.retrieve(outcome.intent_id)
            assert intent.status == "succeeded"

        event = json.dumps(
            {"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": "customer.created"}
        ).encode()
        signed_by_environment = shop.test_client().post(
            "/webhooks/stripe", data=event, headers=sign(event, test_env["STRIPE_WEBHOOK_SECRET"])
        )
        assert signed_by_environment.status_code == 400
        signed_by_admin = shop.test_client().post(
            "/webhooks/stripe", data=event, headers=sign(event, WEBHOOK_SECRET)
        )
        assert signed_by_admin.status_code == 200
    finally:
        # Its own engine closed, and the shared app's rate-limit storage put back (each
        # create_app() rebinds Flask-Limiter's).
        from shop.extensions import limiter

        limiter._storage, limiter._limiter = app.extensions["test_limiter_state"]
        with shop.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_secret_that_can_no_longer_be_decrypted_falls_back_to_the_environment(
    app, admin, monkeypatch, capsys
):
    _save_stripe(admin)
    monkeypatch.setitem(app.config, "SETTINGS_ENCRYPTION_KEY", "another-key-after-a-rotation")
    capsys.readouterr()
    with app.app_context():
        from shop.platform.services import get_secret

        assert get_secret("stripe_secret_key") is None
        assert stripe_gateway.secret_key() == app.config["STRIPE_SECRET_KEY"]
    logged = capsys.readouterr().err
    assert "stored secret cannot be decrypted" in logged
    assert STRIPE_SECRET not in logged


# -- SMTP ------------------------------------------------------------------------------------


def test_smtp_settings_are_saved_with_the_password_encrypted(app, admin, smtp_with_login):
    port, _mailbox = smtp_with_login
    response = _save_smtp(admin, port)

    assert response.status_code == 303
    url = _row(app, "smtp_url")
    assert (url.value, url.encrypted) == (f"smtp://{SMTP_USER}@127.0.0.1:{port}", False)
    password = _row(app, "smtp_password")
    assert password.encrypted and SMTP_PASSWORD not in password.value
    with app.app_context():
        assert crypto.decrypt(password.value) == SMTP_PASSWORD
    [entry] = _audit(app)
    assert entry.after == {
        "smtp_url": f"smtp://{SMTP_USER}@127.0.0.1:{port}",
        "smtp_password": "[redacted]",
        "mail_from": "Comptoir Ventes <ventes@comptoir.example.com>",
    }
    page = admin.get("/admin/settings/email").get_data(as_text=True)
    assert 'value="127.0.0.1"' in page and f'value="{port}"' in page
    assert SMTP_PASSWORD not in page
    assert "Un mot de passe est enregistré" in page


def test_the_connection_test_logs_in_and_reports_in_the_staff_language(app, admin, smtp_with_login):
    port, _mailbox = smtp_with_login
    _save_smtp(admin, port)
    token = admin_csrf(admin)
    form = {
        "host": "127.0.0.1",
        "security": "smtp",
        "port": str(port),
        "username": SMTP_USER,
        "csrf_token": token,
    }

    saved_password = admin.post("/admin/settings/email/test", data=form, headers=HX)
    assert saved_password.status_code == 200
    assert f"La connexion à 127.0.0.1:{port} a réussi." in saved_password.get_data(as_text=True)

    wrong = admin.post(
        "/admin/settings/email/test", data={**form, "password": "pas-le-bon"}, headers=HX
    )
    html = wrong.get_data(as_text=True)
    assert f"La connexion à 127.0.0.1:{port} a échoué\u00a0: le serveur a refusé" in html
    assert "pas-le-bon" not in html

    closed = services.free_port()
    refused = admin.post("/admin/settings/email/test", data={**form, "port": str(closed)})
    assert "la connexion a été refusée (vérifiez le port)" in refused.get_data(as_text=True)
    # Testing saves nothing.
    assert _row(app, "smtp_url").value == f"smtp://{SMTP_USER}@127.0.0.1:{port}"
    assert len(_audit(app)) == 1


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"host": "smtp example"}, "host", "Saisissez un nom d’hôte"),
        ({"host": ""}, "host", "Saisissez le serveur SMTP, ou videz"),
        ({"port": "70000"}, "port", "Un port va de 1 à 65535."),
        ({"security": "telnet"}, "security", "Choisissez un chiffrement dans la liste."),
        ({"mail_from": "ventes"}, "mail_from", "Saisissez une adresse"),
    ],
)
def test_bad_smtp_settings_are_refused(app, admin, fields, field, message):
    response = _save_smtp(admin, 2525, **fields)

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in re.search(rf'id="{field}-error">([^<]+)<', html).group(1)
    assert SMTP_PASSWORD not in html
    if fields.get(field):
        assert f'value="{fields[field]}"' in html or field == "security"
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(PlatformConfig.key))) == 0


def test_the_worker_sends_through_the_server_saved_in_the_admin(
    app, admin, smtp_with_login, mailbox, rq_worker
):
    """The worker is another process: it reads the settings from the database."""
    from shop.checkout import services as checkout
    from shop.checkout.defaults import load_defaults
    from tests import catalogue_factory
    from tests.test_orders import _cart, _details, _variant_of

    port, own_mailbox = smtp_with_login
    _save_smtp(admin, port)
    with app.app_context():
        products = catalogue_factory.build(3)["products"]
        load_defaults()
        db.session.commit()
        cart_id = _cart(_variant_of(products[2]), 1)
        checkout.start_checkout(cart_id)
        checkout.place_order(cart_id, _details("camille.smtp@example.com"))

    [message] = own_mailbox.wait_for("camille.smtp@example.com")
    assert message["From"] == "Comptoir Ventes <ventes@comptoir.example.com>"
    assert message["Message-ID"].endswith("@comptoir.example.com>")
    assert mailbox.messages("camille.smtp@example.com") == []  # not the environment's server
    worker_log = Path(app.config["MAIL_OUTBOX_DIR"]).parent / "worker.log"
    assert SMTP_PASSWORD not in worker_log.read_text()


# -- nothing leaks ---------------------------------------------------------------------------

SETTINGS_PAGES = (
    "/admin/settings",
    "/admin/settings/identity",
    "/admin/settings/taxes",
    "/admin/settings/taxes/new",
    "/admin/settings/shipping",
    "/admin/settings/shipping/new",
    "/admin/settings/payment",
    "/admin/settings/email",
)


def test_secrets_never_appear_in_responses_logs_or_the_audit_log(
    app, admin, smtp_with_login, caplog, capsys
):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="shop")
    port, _mailbox = smtp_with_login
    capsys.readouterr()
    answers = [_save_stripe(admin), _save_smtp(admin, port)]
    # The same secrets typed into forms that are refused or only tested.
    answers.append(_save_stripe(admin, publishable_key="pk_live_mismatch1"))
    answers.append(_save_smtp(admin, port, mail_from="pas une adresse"))
    token = admin_csrf(admin)
    test_form = {"host": "127.0.0.1", "security": "smtp", "port": str(port)}
    answers.append(
        admin.post(
            "/admin/settings/email/test",
            data={**test_form, "username": SMTP_USER, "password": SMTP_PASSWORD},
            headers={**HX, "X-CSRFToken": token},
        )
    )
    answers.append(
        admin.post(
            "/admin/settings/email/test", data={**test_form, "csrf_token": token, "username": "x"}
        )
    )
    for path in SETTINGS_PAGES:
        answers.append(admin.get(path))
        answers.append(admin.get(path, headers=HX))

    for response in answers:
        assert response.status_code < 500, response.request.path
        body = response.get_data(as_text=True) + str(response.headers)
        for plain in (STRIPE_SECRET, WEBHOOK_SECRET, SMTP_PASSWORD):
            assert plain not in body, (response.request.path, plain[:6])
    # Log output: the records pytest captured, and the JSON lines the app wrote to stderr.
    assert caplog.records, "nothing was captured: the check below would prove nothing"
    captured = "\n".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records)
    json_lines = capsys.readouterr().err
    assert '"logger": "shop.request"' in json_lines
    assert "smtp connection test" in json_lines
    for plain in (STRIPE_SECRET, WEBHOOK_SECRET, SMTP_PASSWORD):
        assert plain not in captured
        assert plain not in json_lines
    # The audit log says what changed, never to what.
    entries = _audit(app)
    assert {e.entity_id for e in entries} == {"payment", "email"}
    dumped = json.dumps([[e.before, e.after] for e in entries])
    for plain in (STRIPE_SECRET, WEBHOOK_SECRET, SMTP_PASSWORD):
        assert plain not in dumped
    # At rest: ciphertext only, which decrypts to the secret.
    with app.app_context():
        rows = {r.key: r for r in db.session.scalars(db.select(PlatformConfig))}
        for key, plain in (
            ("stripe_secret_key", STRIPE_SECRET),
            ("stripe_webhook_secret", WEBHOOK_SECRET),
            ("smtp_password", SMTP_PASSWORD),
        ):
            assert rows[key].value != plain and plain not in rows[key].value
            assert crypto.decrypt(rows[key].value) == plain
        assert all(plain not in row.value for row in rows.values() for plain in (SMTP_PASSWORD,))
