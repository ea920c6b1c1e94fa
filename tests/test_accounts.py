"""Registration, login, logout, bad input, CSRF and rate limits, through HTTP."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher

from shop.accounts.models import User
from shop.emails.models import EmailMessage
from shop.extensions import db
from tests.conftest import PASSWORD, csrf_token
from tests.outbox_support import deliver_outbox


def password_fields(html: str) -> list[str]:
    """The value attribute of every password input (must always be empty)."""
    return re.findall(r'<input[^>]*type="password"[^>]*value="([^"]*)"', html)


def _users(app):
    with app.app_context():
        return db.session.execute(db.select(User)).scalars().all()


def _emails(app):
    deliver_outbox(app)  # account mails are written by the outbox handlers
    with app.app_context():
        return db.session.execute(db.select(EmailMessage)).scalars().all()


def test_register_hashes_with_argon2id_normalizes_email_and_logs_in(app, auth, client):
    response = auth.register("  Alice.Martin@Example.COM ", lang="fr")
    assert response.status_code == 303
    assert response.headers["Location"] == "/fr/compte/"
    [user] = _users(app)
    assert user.email == "alice.martin@example.com"
    assert user.password_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(user.password_hash, PASSWORD)
    assert user.locale == "fr" and user.role == "customer"
    dashboard = client.get("/fr/compte/")
    assert dashboard.status_code == 200
    assert "alice.martin@example.com" in dashboard.get_data(as_text=True)
    [welcome] = _emails(app)
    assert (welcome.kind, welcome.to_address, welcome.locale) == (
        "welcome",
        "alice.martin@example.com",
        "fr",
    )
    assert welcome.subject == "Bienvenue chez Comptoir"


def test_register_in_english_stores_english_locale(app, auth):
    assert auth.register("bob@example.com", lang="en").status_code == 303
    [user] = _users(app)
    assert user.locale == "en"
    assert _emails(app)[0].subject == "Welcome to Comptoir"


@pytest.mark.parametrize(
    ("email", "password", "status", "message"),
    [
        ("not-an-email", PASSWORD, 422, "Veuillez saisir une adresse e-mail valide"),
        ("", PASSWORD, 422, "Veuillez saisir votre adresse e-mail."),
        ("carol@example.com", "court", 422, "Ce mot de passe est trop court"),
        ("carol@example.com", "azertyuiop", 422, "trop facile à deviner"),
        ("carol@example.com", "carol-secret-2026", 422, "ne doit pas contenir votre adresse"),
        ("carol@example.com", "", 422, "Veuillez choisir un mot de passe."),
    ],
)
def test_register_rejects_bad_input_and_keeps_the_email(
    app, auth, email, password, status, message
):
    response = auth.register(email, password, lang="fr")
    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert message in html
    if email:
        assert f'value="{email}"' in html
    assert password_fields(html) == [""]
    assert _users(app) == []
    assert _emails(app) == []


def test_register_duplicate_email_is_a_409_with_input_kept(app, auth, client, make_user):
    make_user("dora@example.com")
    response = auth.register("DORA@example.com", "another long password", lang="en")
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "An account already exists with this email address" in html
    assert 'value="DORA@example.com"' in html
    assert password_fields(html) == [""]
    assert len(_users(app)) == 1
    assert len(_emails(app)) == 1  # only the first account's welcome


def test_login_and_logout(app, auth, client, make_user):
    make_user("erin@example.com")
    response = auth.login("Erin@Example.com", lang="en")
    assert response.status_code == 303
    assert response.headers["Location"] == "/en/account/"
    assert client.get("/en/account/").status_code == 200
    with app.app_context():
        user = db.session.execute(db.select(User)).scalar_one()
        assert user.last_login_at is not None

    response = auth.logout(lang="en")
    assert response.status_code == 303
    assert response.headers["Location"] == "/en/"
    dashboard = client.get("/en/account/")
    assert dashboard.status_code == 302
    assert dashboard.headers["Location"].startswith("/en/account/login?next=")


def test_login_redirects_to_a_safe_next_only(auth, client, make_user):
    make_user("fred@example.com")
    token = csrf_token(client, "/fr/compte/connexion")
    response = client.post(
        "/fr/compte/connexion?next=//evil.example.com/x",
        data={"email": "fred@example.com", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/fr/compte/"
    auth.logout()
    token = csrf_token(client, "/fr/compte/connexion")
    response = client.post(
        "/fr/compte/connexion?next=/fr/compte/",
        data={"email": "fred@example.com", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/fr/compte/"


@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("fr", "Adresse e-mail ou mot de passe incorrect."),
        ("en", "Incorrect email address or password."),
    ],
)
def test_wrong_password_is_a_translated_422_keeping_the_email(
    auth, client, make_user, lang, message
):
    make_user("gina@example.com")
    response = auth.login("gina@example.com", "wrong password here", lang=lang)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert 'value="gina@example.com"' in html
    assert password_fields(html) == [""]
    assert client.get(f"/{lang}/{'compte' if lang == 'fr' else 'account'}/").status_code == 302


def test_unknown_email_gets_the_same_answer_as_a_wrong_password(auth, make_user):
    make_user("hugo@example.com")
    unknown = auth.login("nobody@example.com", "whatever password")
    wrong = auth.login("hugo@example.com", "whatever password")
    assert unknown.status_code == wrong.status_code == 422
    assert "Adresse e-mail ou mot de passe incorrect." in unknown.get_data(as_text=True)


def test_a_password_reset_elsewhere_ends_existing_sessions(app, auth, client, make_user):
    make_user("ines@example.com")
    auth.login("ines@example.com")
    assert client.get("/fr/compte/").status_code == 200
    from shop.accounts import services

    with app.app_context():
        user = services.find_by_email("ines@example.com")
        services.reset_password(services.make_reset_token(user), "a brand new long password")
    assert client.get("/fr/compte/").status_code == 302


# -- CSRF ------------------------------------------------------------------------------


def test_login_without_csrf_token_is_refused_and_the_form_keeps_the_email(client, make_user):
    make_user("jade@example.com")
    response = client.post(
        "/fr/compte/connexion", data={"email": "jade@example.com", "password": PASSWORD}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Votre session a expiré" in html
    assert 'value="jade@example.com"' in html
    assert password_fields(html) == [""]
    assert client.get("/fr/compte/").status_code == 302  # not logged in


def test_register_with_a_forged_csrf_token_creates_nothing(app, client):
    client.get("/en/account/register")
    response = client.post(
        "/en/account/register",
        data={"email": "kim@example.com", "password": PASSWORD, "csrf_token": "forged"},
    )
    assert response.status_code == 400
    assert "Your session has expired" in response.get_data(as_text=True)
    assert 'value="kim@example.com"' in response.get_data(as_text=True)
    assert _users(app) == []
    assert _emails(app) == []


def test_logout_without_csrf_token_is_refused_and_keeps_the_session(auth, client, make_user):
    make_user("leo@example.com")
    auth.login("leo@example.com")
    response = client.post("/fr/compte/deconnexion")
    assert response.status_code == 400
    assert "Session expirée" in response.get_data(as_text=True)
    assert client.get("/fr/compte/").status_code == 200


def test_htmx_post_carries_the_token_in_a_header(auth, client, make_user, hx):
    make_user("mia@example.com")
    auth.login("mia@example.com")
    token = csrf_token(client, "/fr/")
    refused = client.post("/fr/compte/deconnexion", headers=hx())
    assert refused.status_code == 400
    accepted = client.post("/fr/compte/deconnexion", headers=hx(**{"X-CSRFToken": token}))
    assert accepted.status_code == 200
    assert accepted.headers["HX-Redirect"] == "/fr/"
    assert client.get("/fr/compte/").status_code == 302


def test_every_page_puts_the_token_in_a_meta_tag_and_hx_headers(client):
    html = client.get("/fr/").get_data(as_text=True)
    token = html.split('<meta name="csrf-token" content="', 1)[1].split('"', 1)[0]
    assert f'<body hx-headers=\'{{"X-CSRFToken": "{token}"}}\'>' in html


# -- rate limits -----------------------------------------------------------------------


def test_repeated_logins_get_a_translated_429(app, client, make_user):
    make_user("noe@example.com")
    token = csrf_token(client, "/fr/compte/connexion")
    statuses = []
    for _ in range(6):
        response = client.post(
            "/fr/compte/connexion",
            data={"email": "noe@example.com", "password": "not the password", "csrf_token": token},
        )
        statuses.append(response.status_code)
    assert statuses == [422] * 5 + [429]
    html = response.get_data(as_text=True)
    assert "Trop de tentatives" in html
    assert int(response.headers["Retry-After"]) > 0
    # Even the right password is refused while the limit holds.
    right = client.post(
        "/fr/compte/connexion",
        data={"email": "noe@example.com", "password": PASSWORD, "csrf_token": token},
    )
    assert right.status_code == 429
    assert client.get("/fr/compte/").status_code == 302


def test_login_limit_is_kept_in_redis(app, client, make_user, redis_service):
    import redis

    make_user("olga@example.com")
    token = csrf_token(client, "/en/account/login")
    client.post(
        "/en/account/login",
        data={"email": "olga@example.com", "password": "nope nope nope", "csrf_token": token},
    )
    keys = redis.Redis.from_url(redis_service.url).keys("*comptoir-limits*")
    assert keys, "the limiter should store its counters in Redis"


def test_reset_requests_are_rate_limited(client):
    token = csrf_token(client, "/en/account/forgot-password")
    statuses = [
        client.post(
            "/en/account/forgot-password",
            data={"email": f"p{i}@example.com", "csrf_token": token},
        ).status_code
        for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
