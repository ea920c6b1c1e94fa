"""Assets served like production (issue 13): fingerprinted static files cached for a year,
compressed responses, no session cookie nor ``Vary: Cookie`` for anonymous visitors of the
cached pages (their forms carry the session-less token), and one ``fetchpriority=high`` per
page."""

from __future__ import annotations

import gzip
import hashlib
import io
import re
from pathlib import Path

import brotli
import pytest
from PIL import Image
from sqlalchemy import func, select

from shop.cart.models import Cart, CartItem
from shop.catalogue import images
from shop.catalogue.models import Product, ProductVariant
from shop.extensions import db
from shop.web import assets
from tests import catalogue_factory
from tests.conftest import csrf_token

ROOT = Path(__file__).resolve().parent.parent
HOME = "/fr/"
CATEGORY = "/fr/categories/mobilier"
PRODUCT = "/fr/produits/table-en-chene-n-3"
ADD = "/fr/panier/ajouter"
CSS = re.compile(r'href="/static/(css/shop\.[0-9a-f]{10}\.css)"')
META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
SAME_ORIGIN = {"Origin": "http://localhost"}


@pytest.fixture
def catalogue(app) -> dict[str, int]:
    with app.app_context():
        catalogue_factory.build(30)
        return dict(db.session.execute(select(ProductVariant.sku, ProductVariant.id)).all())


def html_of(response) -> str:
    return response.get_data(as_text=True)


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Cart)),
            db.session.scalar(select(func.count()).select_from(CartItem)),
        )


def cookies_set(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def varies_on_cookie(response) -> bool:
    return "cookie" in {v.strip().lower() for v in response.headers.get("Vary", "").split(",")}


# -- static files --------------------------------------------------------------------------


def test_static_urls_are_fingerprinted_and_served_for_a_year(client, catalogue):
    page = client.get(HOME)
    hashed = CSS.search(html_of(page))[1]
    original = (ROOT / "static/css/shop.css").read_bytes()
    assert hashed == assets.fingerprinted("css/shop.css", hashlib.sha256(original).hexdigest()[:10])

    response = client.get(f"/static/{hashed}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.mimetype == "text/css"
    assert response.data == original
    assert not cookies_set(response) and not varies_on_cookie(response)
    assert "Accept-Encoding" in response.headers["Vary"]
    again = client.get(f"/static/{hashed}", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304

    plain = client.get("/static/css/shop.css")
    assert plain.status_code == 200
    assert plain.headers["Cache-Control"] == "public, max-age=300"
    assert plain.data == original
    assert not cookies_set(plain) and not varies_on_cookie(plain)

    csrf_token(client, "/fr/compte/connexion")  # now with a session cookie
    with_session = client.get(f"/static/{hashed}")
    assert not cookies_set(with_session) and not varies_on_cookie(with_session)

    assert client.get("/static/css/shop.0123456789.css").status_code == 404
    assert client.get("/static/../shop/config.py").status_code == 404


def test_static_files_are_served_compressed(client):
    original = (ROOT / "static/vendor/htmx-2.0.11.min.js").read_bytes()
    with client.application.test_request_context():
        from flask import url_for

        url = url_for("static", filename="vendor/htmx-2.0.11.min.js")
    assert re.fullmatch(r"/static/vendor/htmx-2\.0\.11\.min\.[0-9a-f]{10}\.js", url)
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == original
    assert zipped.mimetype == "text/javascript"
    squeezed = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert squeezed.headers["Content-Encoding"] == "br"
    assert brotli.decompress(squeezed.data) == original
    assert len(squeezed.data) < len(zipped.data) < len(original)
    assert "Content-Encoding" not in client.get(url).headers


def test_templates_use_the_static_helper_only():
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for match in re.finditer(r"""["'(]/static/""", text):
            raise AssertionError(f"{path}: a static URL written by hand ({match.group()})")


def test_admin_links_the_fingerprinted_files(app, client, catalogue):
    from tests.admin_support import login_staff

    login_staff(client, app, "admin")
    admin = html_of(client.get("/admin/"))
    assert CSS.search(admin)
    assert re.search(r'/static/css/admin\.[0-9a-f]{10}\.css"', admin)
    assert re.search(r'/static/vendor/htmx-2\.0\.11\.min\.[0-9a-f]{10}\.js"', admin)


# -- no cookie for anonymous visitors of the cached pages --------------------------------


@pytest.mark.parametrize("path", [HOME, CATEGORY, PRODUCT, "/fr/recherche?q=chene", "/en/"])
def test_anonymous_pages_set_no_cookie_and_do_not_vary_on_it(client, catalogue, path):
    headers = {"Accept-Language": "en"} if path.startswith("/en/") else {}
    for _ in range(2):  # built, then from the cache
        response = client.get(path, headers=headers)
        assert response.status_code == 200
        assert not cookies_set(response), cookies_set(response)
        assert not varies_on_cookie(response)
        assert response.headers["Cache-Control"] == "private, no-cache"
        token = META.search(html_of(response))[1]
        assert token.startswith("p.")  # the session-less token


def test_product_page_add_form_carries_the_session_less_token(client, catalogue):
    html = html_of(client.get(PRODUCT))
    assert FORM_TOKEN.search(html)[1] == META.search(html)[1]
    assert FORM_TOKEN.search(html)[1].startswith("p.")


def test_a_language_chosen_against_the_browser_is_remembered(client, catalogue):
    response = client.get("/en/", headers={"Accept-Language": "fr"})
    assert any(c.startswith("lang=en") for c in cookies_set(response))


def test_a_visitor_with_a_session_keeps_a_session_token(client, catalogue):
    session_token = csrf_token(client, "/fr/compte/connexion")  # a form: the session is made
    assert not session_token.startswith("p.")
    html = html_of(client.get(PRODUCT))
    token = META.search(html)[1]
    assert not token.startswith("p.")
    # The same session secret: each token is that secret signed with the second it was made
    # (``payload.timestamp.signature``), so compare the payloads.
    assert token.split(".")[0] == session_token.split(".")[0]


# -- CSRF ----------------------------------------------------------------------------------


def test_add_to_cart_with_the_session_less_token(app, client, catalogue):
    token = META.search(html_of(client.get(PRODUCT)))[1]
    data = {"variant_id": str(catalogue["SKU-3"]), "quantity": "2", "csrf_token": token}
    response = client.post(ADD, data=data, headers=SAME_ORIGIN)
    assert response.status_code in (200, 303)
    assert any(c.startswith("cart=") for c in cookies_set(response))
    assert counts(app) == (1, 1)
    # HTMX sends it in the header; a second add to the same cart
    htmx = client.post(
        ADD,
        data={"variant_id": str(catalogue["SKU-4"]), "quantity": "1"},
        headers={"HX-Request": "true", "X-CSRFToken": token, "Sec-Fetch-Site": "same-origin"},
    )
    assert htmx.status_code == 200
    assert counts(app) == (1, 2)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"},
        {"Sec-Fetch-Site": "same-site"},
        {"Referer": "https://evil.example/page"},
    ],
)
def test_the_session_less_token_is_refused_cross_site(app, client, catalogue, headers):
    token = META.search(html_of(client.get(PRODUCT)))[1]
    data = {"variant_id": str(catalogue["SKU-3"]), "quantity": "1", "csrf_token": token}
    response = client.post(ADD, data=data, headers=headers)
    assert response.status_code == 400
    assert counts(app) == (0, 0)
    assert not any(c.startswith("cart=") for c in cookies_set(response))


@pytest.mark.parametrize("token", ["", "p.forged", "p.InNvbWV0aGluZyI.aaaa.bbbb"])
def test_add_to_cart_without_a_valid_token_is_refused(app, client, catalogue, token):
    data = {"variant_id": str(catalogue["SKU-3"]), "quantity": "1"}
    if token:
        data["csrf_token"] = token
    response = client.post(ADD, data=data, headers=SAME_ORIGIN)
    assert response.status_code == 400
    assert counts(app) == (0, 0)


def test_a_token_signed_with_another_key_or_salt_is_refused(app, client, catalogue):
    from itsdangerous import URLSafeTimedSerializer

    forged = "p." + URLSafeTimedSerializer("not-our-secret", salt="comptoir-public-csrf").dumps(
        "cart"
    )
    other_salt = "p." + URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="other").dumps("cart")
    for token in (forged, other_salt):
        data = {"variant_id": str(catalogue["SKU-3"]), "quantity": "1", "csrf_token": token}
        assert client.post(ADD, data=data, headers=SAME_ORIGIN).status_code == 400
    assert counts(app) == (0, 0)


def test_the_session_less_token_counts_for_the_cart_only(app, client, catalogue, hx):
    token = META.search(html_of(client.get(PRODUCT)))[1]
    logout = client.post("/fr/compte/deconnexion", headers=hx(**{"X-CSRFToken": token}))
    assert logout.status_code == 400
    login = client.post(
        "/fr/compte/connexion",
        data={"csrf_token": token, "email": "a@example.com", "password": "x" * 12},
        headers=SAME_ORIGIN,
    )
    assert login.status_code == 400


def test_a_signed_in_customer_needs_their_session_token(app, client, catalogue, auth, make_user):
    public = META.search(html_of(app.test_client().get(PRODUCT)))[1]
    make_user("mia@example.com")
    auth.login("mia@example.com")
    data = {"variant_id": str(catalogue["SKU-3"]), "quantity": "1", "csrf_token": public}
    assert client.post(ADD, data=data, headers=SAME_ORIGIN).status_code == 400
    assert counts(app)[1] == 0
    own = META.search(html_of(client.get(PRODUCT)))[1]
    assert not own.startswith("p.")
    data["csrf_token"] = own
    assert client.post(ADD, data=data, headers=SAME_ORIGIN).status_code in (200, 303)
    assert counts(app)[1] == 1


# -- compression ---------------------------------------------------------------------------


def _without_token(html: str) -> str:
    return re.sub(r"p\.[A-Za-z0-9_.-]+", "TOKEN", html)


@pytest.mark.parametrize("path", [PRODUCT, CATEGORY])
def test_cached_pages_are_compressed_once(client, catalogue, path):
    plain = html_of(client.get(path))
    zipped = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert not cookies_set(zipped) and not varies_on_cookie(zipped)
    assert _without_token(gzip.decompress(zipped.data).decode()) == _without_token(plain)
    assert client.get(path, headers={"Accept-Encoding": "gzip"}).data == zipped.data
    squeezed = client.get(path, headers={"Accept-Encoding": "br, gzip"})
    assert squeezed.headers["Content-Encoding"] == "br"
    assert _without_token(brotli.decompress(squeezed.data).decode()) == _without_token(plain)


def test_other_pages_are_compressed_per_response(client, catalogue):
    plain = client.get("/fr/panier")  # no session: the session-less token
    zipped = client.get("/fr/panier", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert _without_token(gzip.decompress(zipped.data).decode()) == _without_token(html_of(plain))
    assert plain.headers.get("Content-Encoding") is None


def test_pages_with_the_session_token_are_not_compressed(client, catalogue):
    """BREACH: the session's token must not be compressed with what a page reflects."""
    login = client.get("/fr/compte/connexion", headers={"Accept-Encoding": "gzip, br"})
    assert 'name="csrf_token"' in html_of(login)
    assert "Content-Encoding" not in login.headers
    search = client.get("/fr/recherche?q=chene", headers={"Accept-Encoding": "gzip, br"})
    assert "Content-Encoding" not in search.headers  # the visitor has a session now
    css = client.get("/static/css/shop.css", headers={"Accept-Encoding": "gzip"})
    assert css.headers["Content-Encoding"] == "gzip"


def test_a_conditional_request_still_answers_304(client, catalogue):
    first = client.get(PRODUCT, headers={"Accept-Encoding": "gzip"})
    again = client.get(
        PRODUCT, headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


# -- one image fetched first ---------------------------------------------------------------


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 240), (120, 90, 60)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def pictured(app, catalogue):
    with app.app_context():
        for product_id in db.session.scalars(select(Product.id)).all():
            for _ in range(2):
                images.add_product_image(
                    product_id, io.BytesIO(_jpeg()), alt_fr="Photo", alt_en="Photo"
                )
    return catalogue


@pytest.mark.parametrize("path", [HOME, CATEGORY, PRODUCT, "/fr/recherche?q=chene"])
def test_one_image_per_page_is_fetched_first(client, pictured, path):
    html = html_of(client.get(path))
    assert html.count("<img") >= 2
    assert html.count('fetchpriority="high"') == 1
    first_img = html[html.index("<img") : html.index(">", html.index("<img"))]
    assert 'fetchpriority="high"' in first_img
