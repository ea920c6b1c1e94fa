"""The whole site walked, from the demo shop, on both databases, as each role.

On the embedded default (SQLite, jobs in-process, no Redis, no Stripe: what ``make run``
serves) and on PostgreSQL with Redis, the demo shop plus a few orders (paid, shipped, part
refunded, awaiting a transfer, a guest's) and an abandoned cart are walked by an anonymous
visitor, a customer, and support, manager and admin staff (two-factor passed with real TOTP
codes). Each follows every link and GET form it can reach (tests/site_walk.py) and then asks
every kind of page again with hostile input. No response may be a 5xx or echo markup; ids the
database cannot hold answer 404; the pages of other roles answer what the role matrix says.

A page added tomorrow is walked without anyone listing it, as soon as a link reaches it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Auth, _empty_tables
from tests.site_walk import Walk, Walker

BASE_URL = "http://127.0.0.1:5000"
DEMO_PASSWORD = "comptoir-demo-2026"
# Fewer products than `make run`'s 240: every kind of page is there, and seeding is quicker.
DEMO_PRODUCTS = 60
STAFF = {
    "support": "support@demo.example.com",
    "manager": "manager@demo.example.com",
    "admin": "admin@demo.example.com",
}
CUSTOMER = "client@demo.example.com"
OTHER_CUSTOMER = "customer@demo.example.com"
STARTS = {
    "anonymous": ["/", "/fr/", "/en/", "/robots.txt", "/sitemap.xml", "/healthz"],
    "customer": ["/fr/compte/", "/en/account/", "/fr/"],
    "support": ["/admin/", "/fr/"],
    "manager": ["/admin/", "/fr/"],
    "admin": ["/admin/", "/fr/"],
}
ROLES = tuple(STARTS)
# Staff walk the back office (the storefront they see is the anonymous one, walked already).
SCOPES = {
    "anonymous": ("/",),
    "customer": ("/",),
    "support": ("/admin", "/fr/compte", "/en/account"),
    "manager": ("/admin", "/fr/compte", "/en/account"),
    "admin": ("/admin", "/fr/compte", "/en/account"),
}
# Where each role tries every hostile input (elsewhere, the lightest of them): the pages it
# is the first to reach (support and manager see a subset of the admin's pages).
ATTACKS = {
    "anonymous": ("/",),
    "customer": ("/fr/compte", "/en/account", "/fr/commande", "/en/checkout", "/fr/panier"),
    "support": (),
    "manager": (),
    "admin": ("/admin",),
}


@dataclass
class DemoShop:
    backend: str
    app: Flask
    walks: dict[str, Walk]
    visitors: dict[str, FlaskClient] = field(default_factory=dict)

    def client(self) -> FlaskClient:
        """A new visitor, from an address of its own (as the rate limits see it)."""
        client = self.app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"127.0.1.{len(self.visitors) + 10}"
        self.visitors[f"anonymous-{len(self.visitors)}"] = client
        return client


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo_shop(request, test_env, _session_app) -> Iterator[DemoShop]:
    from shop.extensions import db, limiter

    if request.param == "postgresql":
        app = _session_app
        limiter._storage, limiter._limiter = app.extensions["test_limiter_state"]
        _empty_tables(app)
        _load(app)
        yield DemoShop("postgresql", app, {})
        _empty_tables(app)
        return
    with tempfile.TemporaryDirectory(prefix="walk-sqlite-") as folder:
        app = _embedded_app(Path(folder), test_env)
        _load(app)
        yield DemoShop("sqlite", app, {})
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    limiter._storage, limiter._limiter = _session_app.extensions["test_limiter_state"]


def _embedded_app(folder: Path, test_env: dict[str, str]) -> Flask:
    """The shop as ``make run`` builds it: SQLite in the instance folder, no Redis (jobs run
    in-process), no SMTP (mails to files), no Stripe (bank transfer only)."""
    import flask_migrate

    from shop import create_app

    app = create_app(
        {
            "SHOP_INSTANCE_PATH": str(folder),
            "DATABASE_URL": f"sqlite:///{folder / 'shop.db'}",
            "REDIS_URL": "",
            "SMTP_URL": "",
            "STRIPE_SECRET_KEY": "",
            "STRIPE_PUBLISHABLE_KEY": "",
            "STRIPE_WEBHOOK_SECRET": "",
            "SECRET_KEY": test_env["SECRET_KEY"],
            "PUBLIC_BASE_URL": BASE_URL,
            "ARGON2_TIME_COST": test_env["ARGON2_TIME_COST"],
            "ARGON2_MEMORY_COST": test_env["ARGON2_MEMORY_COST"],
            # The session app's level: logging is configured per process, not per app.
            "LOG_LEVEL": test_env["LOG_LEVEL"],
        }
    )
    with app.app_context():
        flask_migrate.upgrade()
    return app


def _load(app: Flask) -> None:
    """The demo shop, and what a shop that has traded a little has: orders in every state,
    invoices and a credit note, a shipment, an abandoned cart."""
    from shop import demo
    from shop.queue import wait_for_inprocess_jobs
    from tests.outbox_support import deliver_outbox

    with app.app_context():
        demo.load(password=DEMO_PASSWORD, products=DEMO_PRODUCTS)
        _orders()
        wait_for_inprocess_jobs(app)
    if app.config.get("REDIS_URL"):
        deliver_outbox(app)


def _orders() -> None:
    from shop.accounts import services as accounts
    from shop.backoffice import payments as backoffice
    from shop.cart.models import CartStatus
    from shop.catalogue.models import ProductVariant
    from shop.clock import utcnow
    from shop.extensions import db
    from shop.inventory.models import InventoryItem
    from shop.orders import fulfilment
    from tests import order_factory

    variants = db.session.scalars(
        db.select(ProductVariant.id)
        .join(InventoryItem, InventoryItem.variant_id == ProductVariant.id)
        .where(InventoryItem.on_hand - InventoryItem.reserved >= 10, ProductVariant.price > 0)
        .order_by(ProductVariant.id)
        .limit(3)
    ).all()
    client = accounts.find_by_email(CUSTOMER)
    other = accounts.find_by_email(OTHER_CUSTOMER)
    assert client is not None and other is not None and len(variants) == 3
    shipped = order_factory.place([(variants[0], 1), (variants[1], 2)], customer_id=client.id)
    fulfilment.fulfil(shipped, carrier="colissimo", tracking_number="6A12345678901")
    refunded = order_factory.place([(variants[2], 1)], customer_id=client.id)
    backoffice.refund(refunded, 500, reason="walk: a scratched leg")
    order_factory.place([(variants[1], 1)], customer_id=client.id, paid=False)
    order_factory.place([(variants[0], 1)], customer_id=other.id, email=OTHER_CUSTOMER)
    order_factory.place([(variants[2], 1)], email="guest@example.com")
    order_factory.cart_at(utcnow() - timedelta(days=2), variants[1], status=CartStatus.ABANDONED)


# -- visitors ------------------------------------------------------------------------------


def _visitor(shop: DemoShop, role: str) -> FlaskClient:
    """A client signed in as ``role`` (two-factor passed with a real TOTP code for staff
    who need it), one per role and shop: a second sign-in within the same 30 seconds could
    not pass two-factor again (a TOTP code is good once)."""
    if role in shop.visitors:
        return shop.visitors[role]
    client = shop.client()
    shop.visitors[role] = client
    if role == "anonymous":
        return client
    email = CUSTOMER if role == "customer" else STAFF.get(role, role)
    if role in ("admin", "manager"):
        secret = _enrolled(shop.app, email)
    response = Auth(client).login(email, DEMO_PASSWORD)
    assert response.status_code in (302, 303), (role, response.status_code)
    if role in ("admin", "manager"):
        _pass_two_factor(client, secret)
    return client


def _enrolled(app: Flask, email: str) -> str:
    """Enrol ``email`` in two-factor authentication through the service (once per shop), with
    a code of a minute ago, so that the code of now is still unused."""
    from shop.accounts import services as accounts
    from shop.accounts import two_factor
    from shop.clock import utcnow

    with app.app_context():
        user = accounts.find_by_email(email)
        assert user is not None
        secrets_by_email = app.extensions.setdefault("walk_totp", {})
        if email not in secrets_by_email:
            secret = two_factor.pending_secret(user.id)
            earlier = utcnow() - timedelta(seconds=90)
            two_factor.confirm_enrolment(user.id, pyotp.TOTP(secret).at(earlier), now=earlier)
            secrets_by_email[email] = secret
        return secrets_by_email[email]


def _pass_two_factor(client: FlaskClient, secret: str) -> None:
    from tests.conftest import csrf_token

    token = csrf_token(client, "/admin/two-factor")
    response = client.post(
        "/admin/two-factor", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token}
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    assert client.get("/admin/").status_code == 200


# -- the walks -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_page_a_role_reaches_holds_up_under_hostile_input(demo_shop, role):
    client = _visitor(demo_shop, role)
    walker = Walker(demo_shop.app, client, role, BASE_URL, SCOPES[role])
    walk = walker.run(STARTS[role])
    walker.attack(ATTACKS[role])
    demo_shop.walks[role] = walk
    assert walk.problems == [], f"{demo_shop.backend}, {role}:\n" + "\n".join(walk.problems)
    # the walk really went round the site: the kinds of page each role must have reached
    assert _expected_endpoints(role) <= walk.endpoints(), sorted(
        _expected_endpoints(role) - walk.endpoints()
    )


def _expected_endpoints(role: str) -> set[str]:
    storefront = {"storefront.home", "storefront.category", "storefront.product", "cart.view"}
    if role == "anonymous":
        return storefront | {"seo.sitemap_index", "seo.sitemap", "account.login", "storefront.tag"}
    if role == "customer":
        return storefront | {
            "account.dashboard",
            "account.orders_list",
            "account.order",
            "account.order_document",
        }
    staff = {"admin.dashboard", "admin.orders", "admin.orders_detail", "admin.customers_detail"}
    if role == "support":
        return staff
    return staff | {
        "admin.products_edit",
        "admin.stock_variant",
        "admin.carts",
        "admin.kpis",
        "admin.orders_invoice",
    }


def test_staff_pages_answer_each_role_as_the_matrix_says(demo_shop):
    from shop.accounts.permissions import allows
    from shop.web.admin import ROUTE_PERMISSIONS

    walk = demo_shop.walks.get("admin") or _walk(demo_shop, "admin")
    pages = [
        v for v in walk.reached("/admin") if v.endpoint in ROUTE_PERMISSIONS and "?" not in v.url
    ]
    assert len(pages) > 20
    problems = []
    for role in ("anonymous", "customer", "support", "manager"):
        client = _visitor(demo_shop, role)
        for page in pages:
            status = client.get(page.url).status_code
            permission = ROUTE_PERMISSIONS[page.endpoint]  # None: any staff (two-factor pages)
            if role == "anonymous":
                expected = {302, 303}
            elif role == "customer":
                expected = {403}
            elif permission is None or allows(role, permission):
                expected = {200, 302, 303}
            else:
                expected = {403}
            if status not in expected:
                problems.append(f"{role}: {status} {page.url} (expected {sorted(expected)})")
    assert problems == [], "\n".join(problems)


def test_a_customers_own_pages_are_nobody_elses(demo_shop):
    walk = demo_shop.walks.get("customer") or _walk(demo_shop, "customer")
    own = [
        v
        for v in walk.visits
        if v.status == 200
        and not v.htmx
        and v.endpoint in ("account.order", "account.order_document")
    ]
    assert {v.endpoint for v in own} == {"account.order", "account.order_document"}
    intruder, anonymous = demo_shop.client(), demo_shop.client()
    assert Auth(intruder).login(OTHER_CUSTOMER, DEMO_PASSWORD).status_code in (302, 303)
    for visit in own:
        assert intruder.get(visit.url).status_code == 404, visit.url
        response = anonymous.get(visit.url)
        assert response.status_code in (302, 303), visit.url
        assert (
            "/compte/connexion" in response.headers["Location"]
            or "/account/login" in (response.headers["Location"])
        )


def _walk(shop: DemoShop, role: str) -> Walk:
    walk = Walker(shop.app, _visitor(shop, role), role, BASE_URL, SCOPES[role]).run(STARTS[role])
    shop.walks[role] = walk
    return walk


def test_the_walker_sees_a_page_that_breaks(demo_shop):
    """The walk can fail: a page that answers 500 or echoes markup is reported."""
    walker = Walker(demo_shop.app, demo_shop.client(), "anonymous", BASE_URL)
    walker._check("/fr/x", 500, "")
    walker._check("/fr/y", 200, "<p><X-WALK-PROBE></p>")
    walker._check("/fr/z", 200, "&lt;x-walk-probe&gt;")
    walker._check("/admin/stock/0", 200, "", expect=404)
    assert walker.walk.problems == [
        "500 /fr/x",
        "unescaped markup from the request in /fr/y",
        "200 (expected 404) /admin/stock/0",
    ]


# Pages no link leads to, by design, each with where it is reached from instead (and the
# test that walks it): a page missing from every walk and from this list fails the test
# below, so a page added without a way to reach it is noticed.
REACHED_OTHERWISE = {
    "static": "files, not pages",
    "media.product_file": "image files, not pages",
    "cart.recover": "the link in a reminder e-mail (tests/test_cart_recovery.py)",
    "account.reset_password": "the link in a reset e-mail (tests/test_password_reset.py)",
    "account.unsubscribe": "the link in a marketing e-mail (tests/test_cart_recovery.py)",
    "checkout.details": "after a POST adding to the cart (tests/test_checkout.py)",
    "checkout.review": "after the details form is posted (tests/test_checkout.py)",
    "invoices.download": "the confirmation page's documents (tests/test_account_orders.py)",
    "payments.pay": "after placing an order by card (tests/test_payments.py)",
}


def test_every_page_of_the_site_is_walked_or_reached_otherwise(demo_shop):
    reached: set[str] = set()
    for role in ROLES:
        walk = demo_shop.walks.get(role) or _walk(demo_shop, role)
        reached |= {v.endpoint for v in walk.visits if v.endpoint and v.status < 400}
    pages = {
        rule.endpoint
        for rule in demo_shop.app.url_map.iter_rules()
        if "GET" in (rule.methods or ())
    }
    assert set(REACHED_OTHERWISE) <= pages  # the list names no page that is gone
    assert reached & set(REACHED_OTHERWISE) == set()  # nor one the walks reach after all
    missing = pages - reached - set(REACHED_OTHERWISE)
    assert missing == set(), f"pages no walk reached on {demo_shop.backend}: {sorted(missing)}"
