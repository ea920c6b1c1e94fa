"""Welcome and password-reset mails through the outbox: an event written with the account
change, a handler that writes the mail (and makes the reset token itself), the real worker
and a real SMTP server delivering it once."""

from __future__ import annotations

import time
from datetime import timedelta
from email import message_from_bytes, policy

import pytest

from shop import create_app, jobs, queue
from shop.accounts import services as accounts
from shop.accounts.models import User
from shop.clock import utcnow
from shop.emails.models import EmailMessage, EmailStatus
from shop.emails.services import REDACTED_BODY
from shop.extensions import db
from shop.outbox import dispatch
from shop.outbox.models import OutboxEvent, OutboxStatus
from tests.conftest import PASSWORD, csrf_token
from tests.outbox_support import deliver_outbox


def _events(app, type_: str) -> list[tuple[int, dict]]:
    with app.app_context():
        events = db.session.execute(
            db.select(OutboxEvent).where(OutboxEvent.type == type_).order_by(OutboxEvent.id)
        ).scalars()
        return [(e.id, dict(e.payload)) for e in events]


def _emails(app, kind: str) -> list[EmailMessage]:
    with app.app_context():
        rows = db.session.execute(
            db.select(EmailMessage).where(EmailMessage.kind == kind).order_by(EmailMessage.id)
        ).scalars()
        messages = list(rows)
        for message in messages:
            db.session.expunge(message)
        return messages


def _wait_until_sent(app, kind: str, timeout: float = 20.0) -> EmailMessage:
    deadline = time.monotonic() + timeout
    while True:
        messages = _emails(app, kind)
        if messages and all(m.status == EmailStatus.SENT for m in messages):
            [message] = messages
            return message
        assert time.monotonic() < deadline, [(m.kind, m.status) for m in messages]
        time.sleep(0.1)


def _ask_for_reset(client, email: str, lang: str = "fr"):
    url = "/fr/compte/mot-de-passe-oublie" if lang == "fr" else "/en/account/forgot-password"
    return client.post(url, data={"email": email, "csrf_token": csrf_token(client, url)})


# -- the event is written with the account change -----------------------------------------


def test_registration_writes_its_event_in_the_same_transaction(app):
    with app.app_context():
        user_id = accounts.register("nina@example.com", PASSWORD, locale="en").id
        with pytest.raises(accounts.EmailTaken):  # refused: writes no event
            accounts.register("Nina@Example.com", PASSWORD, locale="fr")
    [(_, payload)] = _events(app, "user_registered")
    assert payload == {"user_id": user_id}


def test_reset_request_event_holds_no_token_and_unknown_addresses_write_none(app, make_user):
    user_id = make_user("oscar@example.com", locale="fr")
    with app.app_context():
        assert accounts.request_password_reset("ghost@example.com", locale="fr") is False
        assert accounts.request_password_reset("Oscar@example.com", locale="en") is True
    [(_, payload)] = _events(app, "password_reset_requested")
    assert payload == {"user_id": user_id, "locale": "en"}  # the language asked in, no token


# -- the handlers ------------------------------------------------------------------------------


def test_welcome_handler_queues_one_mail_however_often_it_runs(app, make_user):
    make_user("paula@example.com", locale="en")
    deliver_outbox(app)
    [(event_id, _)] = _events(app, "user_registered")
    with app.app_context():
        # As if the worker had died before recording DONE: the event runs again.
        db.session.get(OutboxEvent, event_id).status = OutboxStatus.PENDING
        db.session.commit()
        assert dispatch.dispatch(event_id) is True
    [welcome] = _emails(app, "welcome")
    assert welcome.to_address == "paula@example.com"
    assert (welcome.locale, welcome.subject) == ("en", "Welcome to Comptoir")
    assert welcome.message_id == f"<user_registered.{event_id}@comptoir.example.com>"


def test_no_welcome_for_an_account_closed_before_the_event_ran(app):
    with app.app_context():
        user = accounts.register("quentin@example.com", PASSWORD, locale="fr")
        # Closed in the same breath, before any worker could take the event.
        user.is_active_account = False
        db.session.commit()
    deliver_outbox(app)
    assert _emails(app, "welcome") == []
    [(event_id, _)] = _events(app, "user_registered")
    with app.app_context():
        assert db.session.get(OutboxEvent, event_id).status == OutboxStatus.DONE


def test_no_mail_to_an_address_anonymized_before_the_event_ran(app):
    with app.app_context():
        user = accounts.register("valentin@example.com", PASSWORD, locale="fr")
        user.email = f"anonymized-{user.id}@anonymized.invalid"  # as GDPR anonymization does
        db.session.commit()
    deliver_outbox(app)
    assert _emails(app, "welcome") == []


def test_a_reset_request_older_than_the_link_lifetime_is_dropped(app, make_user):
    make_user("rita@example.com")
    with app.app_context():
        assert accounts.request_password_reset("rita@example.com", locale="fr")
        event = db.session.execute(
            db.select(OutboxEvent).where(OutboxEvent.type == "password_reset_requested")
        ).scalar_one()
        # The worker was down for two hours: the request is older than a link's lifetime.
        event.created_at = utcnow() - timedelta(hours=2)
        db.session.commit()
    deliver_outbox(app)
    assert _emails(app, "password_reset") == []


# -- through the real worker and SMTP ---------------------------------------------------------


def test_welcome_mail_arrives_once_through_the_worker(app, auth, mailbox, rq_worker):
    assert auth.register("sacha@example.com", lang="fr").status_code == 303
    [message] = mailbox.wait_for("sacha@example.com")
    [(event_id, _)] = _events(app, "user_registered")
    assert message["Message-ID"] == f"<user_registered.{event_id}@comptoir.example.com>"
    assert message["Subject"] == "Bienvenue chez Comptoir"
    assert message["Content-Language"] == "fr"
    assert "Votre compte Comptoir est prêt." in message.get_body(("plain",)).get_content()
    sent = _wait_until_sent(app, "welcome")
    assert sent.attempts == 1

    # Delivered again by the job and the sweep: still one mail.
    with app.app_context():
        db.session.get(OutboxEvent, event_id).status = OutboxStatus.PENDING
        db.session.commit()
        queue.enqueue(jobs.dispatch_outbox_events)
        deadline = time.monotonic() + 20
        while db.session.get(OutboxEvent, event_id).status != OutboxStatus.DONE:
            assert time.monotonic() < deadline
            time.sleep(0.1)
            db.session.remove()
        assert jobs.sweep_outbox()["events"] == 0
    time.sleep(1)
    assert len(mailbox.messages("sacha@example.com")) == 1
    assert len(_emails(app, "welcome")) == 1


def test_reset_mail_arrives_once_and_its_link_is_not_kept(
    app, client, make_user, mailbox, rq_worker
):
    make_user("tess@example.com", locale="en")
    mailbox.wait_for("tess@example.com")  # the welcome
    assert _ask_for_reset(client, "tess@example.com", lang="fr").status_code == 200
    [message] = mailbox.wait_for("tess@example.com", count=2)[1:]
    [(event_id, payload)] = _events(app, "password_reset_requested")
    assert payload == {"user_id": payload["user_id"], "locale": "fr"}
    assert message["Message-ID"] == f"<password_reset_requested.{event_id}@comptoir.example.com>"
    assert message["Subject"] == "Choisissez un nouveau mot de passe pour Comptoir"
    text = message.get_body(("plain",)).get_content()
    link = next(line for line in text.splitlines() if "/fr/compte/reinitialiser/" in line)
    token = link.rsplit("/", 1)[1]
    with app.app_context():
        assert accounts.user_for_reset_token(token).email == "tess@example.com"

    # Once sent, the stored mail no longer holds the link; the row itself stays.
    sent = _wait_until_sent(app, "password_reset")
    assert (sent.text_body, sent.html_body) == (REDACTED_BODY, REDACTED_BODY)
    assert token not in sent.text_body
    time.sleep(0.5)
    assert len(mailbox.messages("tess@example.com")) == 2


def test_embedded_default_runs_the_whole_chain_in_process(app, test_env, tmp_path):
    """No Redis: the event's dispatch, then the mail's delivery, run on the in-process
    runner; waiting for it waits for both."""
    own_app = create_app(
        {**test_env, "REDIS_URL": "", "SMTP_URL": "", "INSTANCE_PATH": str(tmp_path)}
    )
    try:
        with own_app.app_context():
            accounts.register("ulysse@example.com", PASSWORD, locale="fr")
            queue.wait_for_inprocess_jobs(own_app)
            assert db.session.execute(
                db.select(User.email).where(User.email == "ulysse@example.com")
            ).scalar_one()
        [eml] = list((tmp_path / "outbox").glob("user_registered.*.eml"))
        message = message_from_bytes(eml.read_bytes(), policy=policy.default)
        assert message["To"] == "ulysse@example.com"
        assert message["Subject"] == "Bienvenue chez Comptoir"
    finally:
        from shop.extensions import limiter

        limiter._storage, limiter._limiter = app.extensions["test_limiter_state"]
        with own_app.app_context():
            db.session.remove()
            db.engine.dispose()
