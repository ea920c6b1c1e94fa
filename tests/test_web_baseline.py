"""Security headers, cookies, JSON logs, /healthz, HTMX page-or-fragment and error pages."""

from __future__ import annotations

import json
import re

import pytest
from flask import abort

from shop import create_app
from tests import services

# -- security headers and cookies -------------------------------------------------------


def test_strict_csp_and_security_headers_on_every_page(app, client):
    from urllib.parse import urlsplit

    stripe_js = urlsplit(app.config["STRIPE_JS_URL"])
    for path in ("/fr/", "/en/account/login", "/fr/inconnue", "/healthz"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        # Our origin, plus Stripe.js's origin only because card payment is configured.
        assert directives["script-src"] == f"'self' {stripe_js.scheme}://{stripe_js.netloc}"
        assert directives["style-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'"
        assert directives["object-src"] == "'none'"
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "Strict-Transport-Security" not in headers  # only in production


@pytest.mark.parametrize(
    ("js_url", "connect", "frames"),
    [
        (
            "https://js.stripe.com/v3/",
            "'self' https://js.stripe.com https://api.stripe.com",
            "https://js.stripe.com https://hooks.stripe.com",
        ),
        ("http://127.0.0.1:9/js.stripe.com/v3/", "'self' http://127.0.0.1:9", "http://127.0.0.1:9"),
    ],
)
def test_card_pages_allow_what_stripe_js_needs_and_nothing_more(app, js_url, connect, frames):
    from shop.web.security import content_security_policy

    app.config["STRIPE_JS_URL"], saved = js_url, app.config["STRIPE_JS_URL"]
    try:
        directives = dict(
            d.strip().split(" ", 1) for d in content_security_policy(app, stripe=True).split(";")
        )
        without = dict(
            d.strip().split(" ", 1) for d in content_security_policy(app, stripe=False).split(";")
        )
    finally:
        app.config["STRIPE_JS_URL"] = saved
    assert directives["connect-src"] == connect
    assert directives["frame-src"] == frames
    assert without["connect-src"] == "'self'" and without["frame-src"] == "'none'"


def test_pages_have_no_inline_script_or_style(client):
    for path in ("/fr/", "/en/account/login", "/fr/compte/inscription", "/en/nowhere"):
        html = client.get(path).get_data(as_text=True)
        # Scripts come from our origin only; JSON-LD blocks are data, never executed.
        scripts = re.findall(r"<script[^>]*>", html)
        assert all(
            re.fullmatch(r'<script (src="/static/[^"]+" defer|type="application/ld\+json")>', s)
            for s in scripts
        ), scripts
        assert " style=" not in html and "<style" not in html
        assert '"includeIndicatorStyles":false' in html.replace("&#34;", '"')


def test_session_cookie_is_httponly_and_samesite_lax(client):
    client.get("/fr/compte/connexion")
    cookie = client.get_cookie("comptoir_session")
    assert cookie is not None
    assert cookie.http_only is True
    assert cookie.same_site == "Lax"


# -- logging -----------------------------------------------------------------------------


def test_one_json_log_line_per_request_with_its_request_id(client, capsys):
    capsys.readouterr()
    response = client.get("/fr/", headers={"X-Request-ID": "abc12345-test"})
    other = client.get("/en/page-that-does-not-exist")
    err = capsys.readouterr().err.strip().splitlines()
    lines = [json.loads(line) for line in err]
    requests = [line for line in lines if line["logger"] == "shop.request"]
    assert len(requests) == 2
    first, second = requests
    assert first["request_id"] == "abc12345-test" == response.headers["X-Request-ID"]
    assert (first["method"], first["path"], first["status"]) == ("GET", "/fr/", 200)
    assert second["status"] == 404
    assert second["request_id"] == other.headers["X-Request-ID"] != first["request_id"]
    assert all(line["level"] and line["ts"] for line in lines)


def test_a_bad_incoming_request_id_is_replaced(client):
    response = client.get("/fr/", headers={"X-Request-ID": "<script>"})
    assert response.headers["X-Request-ID"] != "<script>"
    assert len(response.headers["X-Request-ID"]) == 32


@pytest.mark.parametrize("levels", [("WARNING", "INFO"), ("INFO", "WARNING")])
def test_each_app_logs_at_its_own_level_whichever_was_built_last(client, test_env, capsys, levels):
    # Loggers belong to the process: an app built with a quieter level (as some tests do)
    # must not silence the apps built before it, nor a louder one make it chatty.
    from shop.extensions import db

    own = {level: create_app({**test_env, "LOG_LEVEL": level}) for level in levels}
    try:
        capsys.readouterr()
        client.get("/healthz", headers={"X-Request-ID": "session-app-INFO"})
        for level, app in own.items():
            app.test_client().get("/healthz", headers={"X-Request-ID": f"own-app-{level}"})
        err = capsys.readouterr().err.strip().splitlines()
        logged = [json.loads(line) for line in err]
        requests = [line["request_id"] for line in logged if line["logger"] == "shop.request"]
        assert requests == ["session-app-INFO", "own-app-INFO"]
    finally:
        for app in own.values():
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


# -- health --------------------------------------------------------------------------------


def test_healthz_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_healthz_is_503_when_redis_is_stopped(test_env, tmp_path):
    own_redis = services.start_redis()
    try:
        app = create_app({**test_env, "REDIS_URL": own_redis.url, "INSTANCE_PATH": str(tmp_path)})
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        own_redis.stop()
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.get_json() == {
            "status": "unavailable",
            "checks": {"database": "ok", "redis": "down"},
        }
    finally:
        own_redis.stop()
        from shop.extensions import db

        with app.app_context():
            db.engine.dispose()


# -- HTMX: page or fragment ------------------------------------------------------------


def test_htmx_request_gets_the_fragment_normal_request_the_page(client, hx):
    page = client.get("/fr/compte/connexion")
    fragment = client.get("/fr/compte/connexion", headers=hx())
    assert page.headers["Vary"].count("HX-Request") == 1
    assert "HX-Request" in fragment.headers["Vary"]
    page_html, fragment_html = page.get_data(as_text=True), fragment.get_data(as_text=True)
    assert page_html.startswith("<!doctype html>")
    assert fragment_html.lstrip().startswith('<form id="login-form"')
    assert "<html" not in fragment_html

    # The fragment is the very markup the page includes (less the per-request CSRF token).
    def untokened(html: str) -> str:
        return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", html)

    assert untokened(fragment_html.strip()) in untokened(page_html)


def test_history_restore_gets_the_full_page(client, hx):
    response = client.get(
        "/fr/compte/connexion", headers=hx(**{"HX-History-Restore-Request": "true"})
    )
    assert response.get_data(as_text=True).startswith("<!doctype html>")


def test_htmx_form_error_swaps_the_form_and_success_redirects(client, hx, make_user):
    from tests.conftest import PASSWORD, csrf_token

    make_user("htmx@example.com")
    token = csrf_token(client, "/en/account/login")
    bad = client.post(
        "/en/account/login",
        data={"email": "htmx@example.com", "password": "wrong wrong wrong"},
        headers=hx(**{"X-CSRFToken": token}),
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert html.lstrip().startswith('<form id="login-form"')
    assert "Incorrect email address or password." in html
    good = client.post(
        "/en/account/login",
        data={"email": "htmx@example.com", "password": PASSWORD},
        headers=hx(**{"X-CSRFToken": token}),
    )
    assert good.status_code == 200
    assert good.headers["HX-Redirect"] == "/en/account/"


def test_htmx_error_gets_the_error_fragment(client, hx):
    response = client.get("/en/missing", headers=hx())
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert html.lstrip().startswith('<section class="error-page"')
    assert "Page not found" in html


# -- error pages -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def erring_app(tmp_path_factory):
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('err')}/e.db",
            "SECRET_KEY": "x" * 40,
            "INSTANCE_PATH": str(tmp_path_factory.mktemp("errinst")),
            "REDIS_URL": "",
        }
    )

    @app.get("/<lang>/forbidden-test")
    def forbidden(**_):
        abort(403)

    @app.get("/<lang>/boom-test")
    def boom(**_):
        raise RuntimeError("kaboom: secret detail")

    return app


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/fr/forbidden-test", 403, "Accès refusé"),
        ("/en/forbidden-test", 403, "Access denied"),
        ("/fr/boom-test", 500, "Un problème est survenu"),
        ("/en/boom-test", 500, "Something went wrong"),
    ],
)
def test_error_pages_are_translated_and_leak_nothing(erring_app, path, status, text, capsys):
    client = erring_app.test_client()
    page = client.get(path)
    fragment = client.get(path, headers={"HX-Request": "true"})
    for response in (page, fragment):
        html = response.get_data(as_text=True)
        assert response.status_code == status
        assert text in html
        assert "kaboom" not in html and "Traceback" not in html
    assert page.get_data(as_text=True).startswith("<!doctype html>")
    assert fragment.get_data(as_text=True).lstrip().startswith('<section class="error-page"')
    if status == 500:
        logged = capsys.readouterr().err
        assert "kaboom: secret detail" in logged  # logged for us, not shown to them


def test_method_not_allowed_is_a_translated_405(client):
    response = client.get("/fr/compte/deconnexion")
    assert response.status_code == 405
    assert "Action non autorisée" in response.get_data(as_text=True)
    assert "POST" in response.headers["Allow"]


def test_localstripe_answers_the_official_stripe_library(localstripe):
    import stripe

    client = stripe.StripeClient(
        "sk_test_comptoir", base_addresses={"api": localstripe.url}, max_network_retries=0
    )
    customer = client.v1.customers.create(params={"email": "stripe@example.com"})
    assert customer.id.startswith("cus_")
    assert client.v1.customers.retrieve(customer.id).email == "stripe@example.com"


def test_a_request_body_over_the_limit_gets_a_translated_413(app, client) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 32 * 1024 * 1024
    app.config["MAX_CONTENT_LENGTH"] = 2048
    try:
        response = client.post("/fr/compte/connexion", data={"email": "x" * 5000})
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert response.status_code == 413
    assert "Fichier trop volumineux" in response.get_data(as_text=True)
