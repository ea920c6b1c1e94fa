"""Password reset: a signed, expiring, single-use link, delivered by the real worker over SMTP."""

from __future__ import annotations

import re
import time

import pytest
from argon2 import PasswordHasher
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from shop.accounts.models import User
from shop.emails.models import EmailMessage
from shop.extensions import db
from tests.conftest import PASSWORD, csrf_token

NEW_PASSWORD = "un tout nouveau mot de passe"


def _reset_link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    match = re.search(r"http://127\.0\.0\.1:5000(/\S+/(?:reinitialiser|reset)/\S+)", text)
    assert match, text
    return match.group(1)


def _ask_for_reset(client, email: str, lang: str = "fr"):
    url = "/fr/compte/mot-de-passe-oublie" if lang == "fr" else "/en/account/forgot-password"
    token = csrf_token(client, url)
    return client.post(url, data={"email": email, "csrf_token": token})


def test_reset_email_reaches_smtp_and_its_link_works_once(
    app, client, auth, make_user, mailbox, rq_worker
):
    make_user("reset.fr@example.com", locale="fr")
    response = _ask_for_reset(client, "Reset.FR@example.com")
    assert response.status_code == 200
    assert "Si un compte existe pour Reset.FR@example.com" in response.get_data(as_text=True)

    [message] = mailbox.wait_for("reset.fr@example.com", count=2)[1:]  # welcome, then reset
    assert message["Subject"] == "Choisissez un nouveau mot de passe pour Comptoir"
    assert message["Message-ID"]
    assert message.get_body(("html",)) is not None
    link = _reset_link(message)
    assert link.startswith("/fr/compte/reinitialiser/")

    # The link opens the form, and the new password works once.
    assert client.get(link).status_code == 200
    token = csrf_token(client, link)
    response = client.post(
        link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/fr/compte/connexion"
    assert auth.login("reset.fr@example.com", NEW_PASSWORD).status_code == 303
    auth.logout()

    # Used once: the same link is refused, and the password stays the new one.
    again = client.get(link)
    assert again.status_code == 400
    assert "n’est pas valide ou a déjà été utilisé" in again.get_data(as_text=True)
    token = csrf_token(client, "/fr/")
    replay = client.post(
        link,
        data={
            "password": "encore un autre mot de passe",
            "confirm": "encore un autre mot de passe",
            "csrf_token": token,
        },
    )
    assert replay.status_code == 400
    assert auth.login("reset.fr@example.com", "encore un autre mot de passe").status_code == 422
    assert auth.login("reset.fr@example.com", NEW_PASSWORD).status_code == 303

    with app.app_context():
        sent = db.session.execute(
            db.select(EmailMessage).where(EmailMessage.kind == "password_reset")
        ).scalar_one()
        assert sent.status == "sent" and sent.attempts == 1


def test_reset_email_in_english(app, client, make_user, mailbox, rq_worker):
    make_user("reset.en@example.com", locale="en")
    assert _ask_for_reset(client, "reset.en@example.com", lang="en").status_code == 200
    message = mailbox.wait_for("reset.en@example.com", count=2)[-1]
    assert message["Subject"] == "Choose a new password for Comptoir"
    assert _reset_link(message).startswith("/en/account/reset/")


def test_unknown_email_gets_the_same_answer_and_no_mail(app, client, mailbox):
    response = _ask_for_reset(client, "ghost@example.com")
    assert response.status_code == 200
    assert "Si un compte existe pour ghost@example.com" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(db.select(EmailMessage)).scalars().all() == []
    assert mailbox.messages("ghost@example.com") == []


def _token_for(app, email: str) -> str:
    from shop.accounts import services

    with app.app_context():
        return services.make_reset_token(services.find_by_email(email))


class TwoHoursAgoSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 2 * 3600


def test_expired_link_is_refused_with_a_translated_400(app, client, make_user):
    make_user("late@example.com")
    salt = "comptoir.password-reset"
    payload = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=salt).loads(
        _token_for(app, "late@example.com")
    )
    old_token = URLSafeTimedSerializer(
        app.config["SECRET_KEY"], salt=salt, signer=TwoHoursAgoSigner
    ).dumps(payload)
    for path, text in [
        ("/fr/compte/reinitialiser/", "Ce lien de réinitialisation a expiré"),
        ("/en/account/reset/", "This password reset link has expired"),
    ]:
        response = client.get(path + old_token)
        html = response.get_data(as_text=True)
        assert response.status_code == 400
        assert text in html
        assert 'name="email"' in html  # the page offers to send a new link
    with app.app_context():
        user = db.session.execute(db.select(User)).scalar_one()
        assert PasswordHasher().verify(user.password_hash, PASSWORD)


@pytest.mark.parametrize("token", ["garbage", "a" * 300, "eyJ1aWQiOjF9.tampered.sig"])
def test_forged_links_are_refused(client, token):
    response = client.get(f"/en/account/reset/{token}")
    assert response.status_code == 400
    assert "is not valid or has already been used" in response.get_data(as_text=True)


def test_weak_or_mismatched_new_password_keeps_the_link_usable(app, client, auth, make_user):
    make_user("weak@example.com")
    link = "/en/account/reset/" + _token_for(app, "weak@example.com")
    token = csrf_token(client, link)
    weak = client.post(link, data={"password": "short", "confirm": "short", "csrf_token": token})
    assert weak.status_code == 422
    assert "This password is too short" in weak.get_data(as_text=True)
    mismatch = client.post(
        link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x", "csrf_token": token}
    )
    assert mismatch.status_code == 422
    assert "The two passwords do not match." in mismatch.get_data(as_text=True)
    no_csrf = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert no_csrf.status_code == 400
    assert auth.login("weak@example.com", PASSWORD, lang="en").status_code == 303
    auth.logout(lang="en")
    ok = client.post(
        link,
        data={
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": csrf_token(client, link),
        },
    )
    assert ok.status_code == 303


def test_reset_form_posts_back_to_its_own_link(app, client, make_user):
    make_user("action@example.com")
    link = "/fr/compte/reinitialiser/" + _token_for(app, "action@example.com")
    html = client.get(link).get_data(as_text=True)
    assert f'action="{link}"' in html
