"""Staff TOTP two-factor authentication through the real pages: enrolment with the secret the
page shows, recovery codes, replay and brute-force protection, reset by an administrator, a
new login asking again, the secret never leaking; and the whole journey in Chromium."""

from __future__ import annotations

import re
import time
from urllib.parse import quote

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page, expect

from shop.accounts.models import RecoveryCode, User
from shop.audit.models import AuditLog
from shop.extensions import db
from tests.admin_support import admin_csrf, login_staff, make_staff
from tests.conftest import PASSWORD, Auth

SECRET_ON_PAGE = re.compile(r'<code class="totp-secret" id="totp-secret">([A-Z2-7 ]+)</code>')
CODES_ON_PAGE = re.compile(r"<li><code>([a-z0-9]{4}(?:-[a-z0-9]{4}){3})</code></li>")
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def fresh_step() -> None:
    """Start with at least 5 s left in the current 30 s step, so the codes a test computes
    (previous, current, next step) keep their meaning until the server checks them."""
    left = 30 - time.time() % 30
    if left < 5:
        time.sleep(left + 0.05)


def step_code(secret: str, offset: int) -> str:
    """The code of the step ``offset`` steps from now (-1: previous, 0: current, 1: next)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * offset)


def wrong_code(secret: str) -> str:
    valid = {step_code(secret, offset) for offset in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "123456", "654321") if c not in valid)


def _token(client: FlaskClient, url: str = "/admin/two-factor") -> str:
    response = client.get(url)
    match = CSRF.search(response.get_data(as_text=True))
    assert match, (url, response.status_code)
    return match.group(1)


def _login(client: FlaskClient, email: str) -> None:
    response = Auth(client).login(email)
    assert response.status_code == 303, response.status_code


def _user(app: Flask, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def _audit(app: Flask) -> list[tuple[str, str, dict | None, dict | None]]:
    with app.app_context():
        return [
            (e.action, e.entity_id, e.before, e.after)
            for e in db.session.scalars(db.select(AuditLog).order_by(AuditLog.id))
        ]


def enrol(
    client: FlaskClient, app: Flask, role: str = "manager", email: str | None = None
) -> tuple[int, str, list[str]]:
    """Log a new ``role`` in and enrol through the pages (with the previous step's code, so
    the current and next steps are still unused); returns (user id, secret, recovery codes)."""
    email = email or f"{role}@example.com"
    user_id = make_staff(app, role, email)
    _login(client, email)
    page = client.get("/admin/two-factor/enrol").get_data(as_text=True)
    secret = SECRET_ON_PAGE.search(page).group(1).replace(" ", "")
    response = client.post(
        "/admin/two-factor/enrol",
        data={"csrf_token": CSRF.search(page).group(1), "code": step_code(secret, -1)},
    )
    assert response.status_code == 200, response.status_code
    codes = CODES_ON_PAGE.findall(response.get_data(as_text=True))
    assert len(codes) == 10
    return user_id, secret, codes


def relogin(client: FlaskClient, email: str) -> None:
    Auth(client).logout()
    _login(client, email)


def verify(client: FlaskClient, code: str, next_url: str = "/admin/"):
    return client.post(
        f"/admin/two-factor?next={quote(next_url)}",
        data={"csrf_token": _token(client), "code": code},
    )


# -- enrolment ---------------------------------------------------------------------------------


def test_manager_is_sent_to_enrolment_and_enrols_with_the_secret_the_page_shows(app, client):
    from shop.platform import crypto

    fresh_step()
    user_id = make_staff(app, "manager")
    _login(client, "manager@example.com")

    response = client.get("/admin/outbox")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/two-factor?next=/admin/outbox"
    response = client.get(response.headers["Location"])
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/two-factor/enrol?next=/admin/outbox"

    page = client.get("/admin/two-factor/enrol?next=/admin/outbox")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Configurer la double authentification" in html
    # The QR code is inline SVG, without any style attribute (strict CSP).
    svg = re.search(r"<svg [^>]*class=\"totp-qr\".*?</svg>", html, re.S).group(0)
    assert 'role="img"' in svg and "<title>" in svg and "<path" in svg
    assert "style" not in svg
    assert "style=" not in html and "<script>" not in html
    secret = SECRET_ON_PAGE.search(html).group(1).replace(" ", "")
    assert len(secret) == 32
    # Stored encrypted: the column holds a Fernet token, never the secret.
    stored = _user(app, user_id).totp_secret
    with app.app_context():
        assert secret not in stored and crypto.decrypt(stored) == secret
    # A reload shows the same secret (a QR code already scanned keeps working).
    again = client.get("/admin/two-factor/enrol").get_data(as_text=True)
    assert SECRET_ON_PAGE.search(again).group(1).replace(" ", "") == secret

    token = CSRF.search(html).group(1)
    response = client.post(
        "/admin/two-factor/enrol?next=/admin/outbox",
        data={"csrf_token": token, "code": wrong_code(secret)},
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "Ce code n’est pas valide. Vérifiez-le et réessayez." in body
    assert _user(app, user_id).totp_enabled_at is None
    assert _audit(app) == []
    assert client.get("/admin/outbox").status_code == 303

    response = client.post(
        "/admin/two-factor/enrol?next=/admin/outbox",
        data={"csrf_token": token, "code": step_code(secret, 0)},
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    codes = CODES_ON_PAGE.findall(body)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert 'href="/admin/outbox"' in body
    assert secret not in body
    user = _user(app, user_id)
    assert user.totp_enabled_at is not None
    assert user.totp_last_step == pyotp.TOTP(secret).timecode(user.totp_enabled_at)
    with app.app_context():
        hashes = db.session.scalars(
            db.select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user_id)
        ).all()
    assert len(hashes) == 10 and not set(hashes) & {c.replace("-", "") for c in codes}
    assert _audit(app) == [
        ("staff.two_factor_enable", str(user_id), {"two_factor": False}, {"two_factor": True})
    ]
    # Passed for this session: the page asked for opens.
    assert client.get("/admin/outbox").status_code == 200
    # Enrolled: the enrolment page now leads to the status page.
    assert client.get("/admin/two-factor/enrol").status_code == 303
    status = client.get("/admin/two-factor").get_data(as_text=True)
    assert "10 codes de secours restants." in status


def test_an_empty_or_stale_enrolment_form_is_refused_with_the_input_kept(app, client):
    user_id = make_staff(app, "admin")
    _login(client, "admin@example.com")
    page = client.get("/admin/two-factor/enrol").get_data(as_text=True)
    token = CSRF.search(page).group(1)
    response = client.post("/admin/two-factor/enrol", data={"csrf_token": token, "code": ""})
    assert response.status_code == 422
    assert "Veuillez saisir le code." in response.get_data(as_text=True)
    response = client.post("/admin/two-factor/enrol", data={"code": "123 456"})
    assert response.status_code == 400
    assert 'value="123 456"' in response.get_data(as_text=True)
    assert _user(app, user_id).totp_enabled_at is None


# -- verification --------------------------------------------------------------------------------


def test_a_new_login_asks_for_the_code_and_a_replayed_code_is_refused(app, client):
    fresh_step()
    user_id, secret, _ = enrol(client, app)

    relogin(client, "manager@example.com")
    response = client.get("/admin/outbox")
    assert response.headers["Location"] == "/admin/two-factor?next=/admin/outbox"
    page = client.get("/admin/two-factor?next=/admin/outbox").get_data(as_text=True)
    assert "Saisissez le code à 6 chiffres" in page
    assert 'autocomplete="one-time-code"' in page

    current = step_code(secret, 0)
    response = verify(client, current, "/admin/outbox")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/outbox"
    assert client.get("/admin/outbox").status_code == 200

    # The same code again, in another session: refused, the session stays locked out.
    relogin(client, "manager@example.com")
    response = verify(client, current)
    assert response.status_code == 422
    assert "Ce code a déjà été utilisé." in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 303
    # Another client, same code: refused too.
    other = app.test_client()
    _login(other, "manager@example.com")
    assert verify(other, current).status_code == 422

    # A wrong code: refused, counted.
    response = verify(client, wrong_code(secret))
    assert response.status_code == 422
    assert "Ce code n’est pas valide." in response.get_data(as_text=True)
    assert _user(app, user_id).totp_failures == 3

    # The next step's code is accepted and resets the count.
    response = verify(client, step_code(secret, 1))
    assert response.status_code == 303
    assert client.get("/admin/").status_code == 200
    assert _user(app, user_id).totp_failures == 0
    # Verification is not an admin write: no audit entry beyond the enrolment.
    assert [a[0] for a in _audit(app)] == ["staff.two_factor_enable"]


def test_verification_with_htmx_gets_the_form_back_or_a_redirect(app, client, hx):
    fresh_step()
    _, secret, _ = enrol(client, app)
    relogin(client, "manager@example.com")
    token = _token(client)
    response = client.post(
        "/admin/two-factor", data={"code": wrong_code(secret)}, headers=hx(**{"X-CSRFToken": token})
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert body.startswith('<div id="two-factor-verify">') and "<html" not in body
    response = client.post(
        "/admin/two-factor",
        data={"code": step_code(secret, 0)},
        headers=hx(**{"X-CSRFToken": token}),
    )
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/admin/"


def test_a_recovery_code_works_once(app, client):
    fresh_step()
    user_id, _, codes = enrol(client, app)
    relogin(client, "manager@example.com")

    response = verify(client, codes[3].upper().replace("-", " "), "/admin/outbox")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/outbox"
    page = client.get("/admin/outbox").get_data(as_text=True)
    assert "Code de secours accepté. Il vous en reste 9." in page
    with app.app_context():
        used = db.session.scalars(
            db.select(RecoveryCode).where(RecoveryCode.used_at.is_not(None))
        ).all()
    assert [u.user_id for u in used] == [user_id]
    assert _audit(app)[-1] == (
        "staff.recovery_code_used",
        str(user_id),
        None,
        {"recovery_codes_left": 9},
    )

    relogin(client, "manager@example.com")
    response = verify(client, codes[3])
    assert response.status_code == 422
    assert "Ce code n’est pas valide." in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 303
    # Another manager's code is no use either.
    other = app.test_client()
    _, _, other_codes = enrol(other, app, "manager", "autre.manager@example.com")
    assert verify(client, other_codes[0]).status_code == 422
    assert verify(client, codes[4]).status_code == 303


def test_too_many_wrong_codes_lock_the_form(app, client):
    fresh_step()
    user_id, secret, codes = enrol(client, app)
    relogin(client, "manager@example.com")
    bad = wrong_code(secret)
    for _ in range(4):
        assert verify(client, bad).status_code == 422
    response = verify(client, bad)
    assert response.status_code == 429
    body = response.get_data(as_text=True)
    assert "Trop de codes erronés." in body
    assert 'name="code"' not in body  # the form is gone while locked
    assert int(response.headers["Retry-After"]) > 14 * 60
    locked = _user(app, user_id).totp_locked_until
    assert locked is not None

    # While locked, even the right code and a recovery code are refused, and not consumed.
    response = verify(client, step_code(secret, 0))
    assert response.status_code == 429
    assert verify(client, codes[0]).status_code == 429
    assert client.get("/admin/").status_code == 303
    page = client.get("/admin/two-factor")
    assert page.status_code == 200 and "Trop de codes erronés." in page.get_data(as_text=True)
    with app.app_context():
        assert not db.session.scalar(
            db.select(db.func.count(RecoveryCode.id)).where(RecoveryCode.used_at.is_not(None))
        )
    assert _user(app, user_id).totp_locked_until == locked


def test_verification_is_rate_limited(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "TWO_FACTOR_RATE_LIMIT", "3 per minute")
    monkeypatch.setitem(app.config, "TWO_FACTOR_MAX_FAILURES", 100)
    fresh_step()
    user_id, secret, _ = enrol(client, app)  # one POST of the three
    relogin(client, "manager@example.com")
    bad = wrong_code(secret)
    assert verify(client, bad).status_code == 422
    assert verify(client, bad).status_code == 422
    response = verify(client, step_code(secret, 0))
    assert response.status_code == 429
    assert "Trop de tentatives" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 303
    assert _user(app, user_id).totp_last_step == pyotp.TOTP(secret).timecode(time.time()) - 1


# -- support, reset, sessions ---------------------------------------------------------------------


def test_support_staff_may_enrol_and_are_then_asked_for_the_code(app, client):
    fresh_step()
    make_staff(app, "support")
    _login(client, "support@example.com")
    assert client.get("/admin/").status_code == 200  # not required for support
    page = client.get("/admin/two-factor/enrol").get_data(as_text=True)
    assert "Facultative pour votre rôle" in page
    secret = SECRET_ON_PAGE.search(page).group(1).replace(" ", "")
    response = client.post(
        "/admin/two-factor/enrol",
        data={"csrf_token": CSRF.search(page).group(1), "code": step_code(secret, -1)},
    )
    assert response.status_code == 200
    relogin(client, "support@example.com")
    assert client.get("/admin/").headers["Location"] == "/admin/two-factor?next=/admin/"
    assert verify(client, step_code(secret, 0)).status_code == 303
    assert client.get("/admin/").status_code == 200


def test_an_admin_resets_a_managers_two_factor(app, client):
    fresh_step()
    manager_id, _, _ = enrol(client, app)
    assert client.get("/admin/outbox").status_code == 200

    admin = app.test_client()
    login_staff(admin, app, "admin")
    staff_page = admin.get("/admin/staff").get_data(as_text=True)
    assert "Réinitialiser la double authentification" in staff_page
    response = admin.post(
        f"/admin/staff/{manager_id}/two-factor/reset", data={"csrf_token": admin_csrf(admin)}
    )
    assert response.status_code == 303
    manager = _user(app, manager_id)
    assert (manager.totp_secret, manager.totp_enabled_at, manager.totp_last_step) == (
        None,
        None,
        None,
    )
    with app.app_context():
        assert not db.session.scalar(db.select(db.func.count(RecoveryCode.id)))
    assert _audit(app)[-1] == (
        "staff.two_factor_reset",
        str(manager_id),
        {"two_factor": "on"},
        {"two_factor": "off"},
    )
    # The manager's session, passed before the reset, must enrol again.
    response = client.get("/admin/outbox")
    assert response.headers["Location"] == "/admin/two-factor?next=/admin/outbox"
    assert (
        client.get(response.headers["Location"])
        .headers["Location"]
        .startswith("/admin/two-factor/enrol")
    )
    # Nothing left to reset: said so, nothing written.
    entries = len(_audit(app))
    response = admin.post(
        f"/admin/staff/{manager_id}/two-factor/reset", data={"csrf_token": admin_csrf(admin)}
    )
    assert response.status_code == 303
    assert len(_audit(app)) == entries


def test_only_admins_reset_two_factor(app, client):
    fresh_step()
    manager_id, _, _ = enrol(client, app)
    other = app.test_client()
    login_staff(other, app, "manager", "other.manager@example.com")
    response = other.post(
        f"/admin/staff/{manager_id}/two-factor/reset", data={"csrf_token": admin_csrf(other)}
    )
    assert response.status_code == 403
    assert _user(app, manager_id).totp_enabled_at is not None


def test_the_command_line_resets_two_factor_when_no_admin_can(app, client):
    fresh_step()
    user_id, _, _ = enrol(client, app, "admin")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["shop", "reset-two-factor", "--email", "Admin@example.com"])
    assert result.exit_code == 0, result.output
    assert "two-factor authentication of admin@example.com reset" in result.output
    assert _user(app, user_id).totp_enabled_at is None
    with app.app_context():
        entry = db.session.scalars(db.select(AuditLog).order_by(AuditLog.id.desc())).first()
        assert (entry.actor_id, entry.actor_email, entry.action, entry.entity_id) == (
            None,
            "(command line)",
            "staff.two_factor_reset",
            str(user_id),
        )
        assert (entry.before, entry.after) == ({"two_factor": "on"}, {"two_factor": "off"})
    result = runner.invoke(args=["shop", "reset-two-factor", "--email", "nobody@example.com"])
    assert result.exit_code == 1 and "no account uses nobody@example.com" in result.output


def test_logging_out_and_in_again_in_the_same_browser_asks_again(app, client):
    """The session cookie survives a logout; the two-factor mark must not."""
    fresh_step()
    enrol(client, app, "admin")
    assert client.get("/admin/staff").status_code == 200
    relogin(client, "admin@example.com")
    response = client.get("/admin/staff")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/two-factor?next=/admin/staff"


def test_next_only_leads_back_into_the_back_office(app, client):
    fresh_step()
    _, secret, _ = enrol(client, app)
    relogin(client, "manager@example.com")
    response = verify(client, step_code(secret, 0), "https://evil.example.com/admin")
    assert response.headers["Location"] == "/admin/"


# -- the secret never leaks ------------------------------------------------------------------------


def test_the_secret_never_appears_in_later_responses_logs_or_the_audit_log(
    app, client, caplog, capsys
):
    from shop.platform import crypto

    fresh_step()
    capsys.readouterr()
    user_id = make_staff(app, "admin")
    _login(client, "admin@example.com")
    page = client.get("/admin/two-factor/enrol").get_data(as_text=True)
    secret = SECRET_ON_PAGE.search(page).group(1).replace(" ", "")
    grouped = SECRET_ON_PAGE.search(page).group(1)

    bodies = []
    response = client.post(
        "/admin/two-factor/enrol",
        data={"csrf_token": CSRF.search(page).group(1), "code": step_code(secret, -1)},
    )
    bodies.append(response.get_data(as_text=True))
    for url in ("/admin/", "/admin/two-factor", "/admin/staff", "/admin/audit", "/admin/outbox"):
        response = client.get(url)
        assert response.status_code == 200, url
        bodies.append(response.get_data(as_text=True))
        bodies.append(str(response.headers))
    relogin(client, "admin@example.com")
    bodies.append(client.get("/admin/two-factor").get_data(as_text=True))
    bodies.append(verify(client, wrong_code(secret)).get_data(as_text=True))
    bodies.append(verify(client, step_code(secret, 0)).get_data(as_text=True))
    with client.session_transaction() as session:
        bodies.append(repr(dict(session)))

    for body in bodies:
        assert secret not in body and grouped not in body
    logged = capsys.readouterr().err + "\n".join(
        f"{r.getMessage()} {vars(r)}" for r in caplog.records
    )
    assert '"logger": "shop.request"' in logged  # the JSON log lines were captured
    assert "two-factor enabled" in logged
    assert secret not in logged and grouped not in logged
    with app.app_context():
        stored = db.session.get(User, user_id).totp_secret
        assert stored.startswith("gAAAAA") and secret not in stored
        assert crypto.decrypt(stored) == secret
        audit_text = " ".join(
            f"{e.before} {e.after}" for e in db.session.scalars(db.select(AuditLog))
        )
    assert audit_text and secret not in audit_text


# -- the journey in Chromium ------------------------------------------------------------------


@pytest.mark.browser
def test_manager_enrols_in_chromium_and_lands_on_the_page_asked_for(app, live, browser: Browser):
    context = browser.new_context(locale="fr-FR")
    try:
        _journey(app, live, context.new_page())
    finally:
        context.close()


def _journey(app, live, page: Page) -> None:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    make_staff(app, "manager", "camille.manager@example.com")
    fresh_step()

    page.goto(live.url + "/admin/outbox")
    expect(page).to_have_url(re.compile(r"/fr/compte/connexion\?next=/admin/outbox$"))
    page.get_by_label("Adresse e-mail").fill("camille.manager@example.com")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()

    expect(page).to_have_url(live.url + "/admin/two-factor/enrol?next=/admin/outbox")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Configurer la double authentification"
    )
    qr = page.locator("svg.totp-qr")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    assert len(secret) == 32

    page.get_by_label("Code").fill(wrong_code(secret))
    page.get_by_role("button", name="Activer la double authentification").click()
    expect(page.locator("#code-error")).to_have_text(
        "Ce code n’est pas valide. Vérifiez-le et réessayez."
    )
    page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Activer la double authentification").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "La double authentification est activée"
    )
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="J’ai noté mes codes, continuer").click()

    expect(page).to_have_url(live.url + "/admin/outbox")
    expect(page.get_by_role("heading", level=1)).to_have_text("Événements en échec")
    assert [p for p in problems if "422" not in p] == []
