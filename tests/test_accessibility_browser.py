"""Every page type checked by axe-core in Chromium against WCAG 2.2 A and AA: the storefront
and the account in French and English, at a phone and a laptop size; the back office.

axe-core is vendored in tests/vendor (see VERSIONS.txt), never fetched at run time. It is
added as an init script: those run before the page's own and are not subject to its CSP, so
the strict policy stays on. One browser context walks every page, the data is built once
for the module, and each test reports every violation it met together, so that one run
shows all there is to fix.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect

from shop.accounts import services as accounts
from shop.accounts.models import User
from shop.catalogue import images
from shop.catalogue.models import ProductVariant
from shop.checkout import settings as checkout_settings
from shop.checkout.defaults import load_defaults
from shop.emails import services as emails
from shop.extensions import db
from shop.orders import services as orders
from shop.orders.models import Order
from tests import catalogue_factory, order_factory
from tests.admin_support import login_staff
from tests.conftest import PASSWORD, LiveServer, _empty_tables, fresh_state
from tests.order_factory import offer_bank_transfer
from tests.outbox_support import deliver_outbox
from tests.test_images import picture
from tests.test_payments import place_pending_order

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1280, "height": 800}}
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Comptoir-accessibility"
CUSTOMER = "camille.a11y@example.com"

RUN_AXE = """async (tags) => {
  const results = await axe.run(document, {
    runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
  });
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
}"""


@dataclass
class Site:
    """What the module built: the shop's address and the ids its pages name."""

    url: str
    products: list[int]
    customer_id: int
    customer_order: str  # its number
    pending_order: int
    paid_order: int
    pay_token: str
    variant_id: int
    category_id: int
    tag_id: int
    tax_rate_id: int
    shipping_method_id: int


@dataclass
class Audit:
    """Goes to pages and keeps every violation axe finds, to report them all at once."""

    page: Page
    base: str
    found: list[str] = field(default_factory=list)
    checked: int = 0

    def check(self, path: str, status: int = 200, sizes: tuple[str, ...] = ("laptop",)) -> None:
        """Opens ``path`` (which must answer ``status`` itself, not by a redirect) and checks
        it at each of ``sizes``: one load, the window resized in between."""
        response = self.page.goto(self.base + path)
        assert response is not None, path
        assert (response.status, response.url) == (status, self.base + path), path
        self.here(path, sizes)

    def here(self, label: str, sizes: tuple[str, ...] = ("laptop",)) -> None:
        """Checks the page as it is now (after a form was sent, say)."""
        for size in sizes:
            self.page.set_viewport_size(VIEWPORTS[size])
            violations: list[dict[str, Any]] = self.page.evaluate(RUN_AXE, WCAG_TAGS)
            self.checked += 1
            for v in violations:
                nodes = "\n".join(
                    f"      {n['target']}: {' '.join((n['summary'] or '').split())}"
                    for n in v["nodes"]
                )
                self.found.append(
                    f"{label} ({size}): {v['id']} ({v['impact']}) {v['help']} {v['url']}\n{nodes}"
                )

    def assert_clean(self) -> None:
        assert self.checked > 0
        if self.found:
            pytest.fail(
                f"{len(self.found)} accessibility violation(s) in {self.checked} checks:\n"
                + "\n".join(self.found),
                pytrace=False,
            )


# -- data and browser, once for the module -----------------------------------------------


def _first_variant(product_id: int) -> int:
    return db.session.scalars(
        db.select(ProductVariant.id)
        .where(ProductVariant.product_id == product_id)
        .order_by(ProductVariant.id)
    ).first()


@pytest.fixture(scope="module")
def site(_session_app: Flask, live_server: LiveServer) -> Iterator[Site]:
    """The test catalogue (two products with a picture, one described and one not), default
    taxes and delivery methods, a customer with a paid order (and its invoice), a guest order
    awaiting a card payment. Module-scoped, so it does for the module what the ``app``
    fixture does for one test: empty tables and fresh rate limits around it."""
    app = _session_app
    fresh_state(app)
    with app.app_context():
        ids = catalogue_factory.build(6)
        load_defaults()
        db.session.commit()
        offer_bank_transfer()
        for index, (alt_fr, alt_en) in {
            0: ("Chaise vue de face", "Chair seen from the front"),
            1: ("", ""),
        }.items():
            image = images.add_product_image(
                ids["products"][index], io.BytesIO(picture("JPEG")), alt_fr=alt_fr, alt_en=alt_en
            )
            images.render_renditions(image.id)
        customer = accounts.register(CUSTOMER, PASSWORD, locale="fr")
        customer_id = customer.id
        variant_id = _first_variant(ids["products"][2])
        paid = order_factory.place([(variant_id, 1)], email=CUSTOMER, customer_id=customer_id)
        pending = place_pending_order(payment_method="card")
        pending_order = db.session.get(Order, pending)
        pay_token = orders.access_token(pending_order)
        number = db.session.get(Order, paid).number
        tax_rate = checkout_settings.tax_rates()[0].id
        method = checkout_settings.shipping_methods()[0].id
    deliver_outbox(app)  # the welcome mail, the invoice of the paid order
    yield Site(
        url=live_server.url,
        products=ids["products"],
        customer_id=customer_id,
        customer_order=number,
        pending_order=pending,
        paid_order=paid,
        pay_token=pay_token,
        variant_id=variant_id,
        category_id=ids["chairs"],
        tag_id=ids["wood"],
        tax_rate_id=tax_rate,
        shipping_method_id=method,
    )
    _empty_tables(app)


@pytest.fixture(scope="module")
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(user_agent=USER_AGENT)
    context.add_init_script(path=AXE)
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture(scope="module")
def audit(context: BrowserContext, site: Site) -> Audit:
    return Audit(context.new_page(), site.url)


@pytest.fixture
def fresh(audit: Audit) -> Audit:
    """The module's page, with this test's own list of violations and no cookies."""
    audit.page.context.clear_cookies()
    audit.found, audit.checked = [], 0
    return audit


# -- the pages --------------------------------------------------------------------------

PATHS = {
    "fr": {
        "home": "/fr/",
        "category": "/fr/categories/mobilier",
        "subcategory": "/fr/categories/chaises",
        "product_variants": "/fr/produits/chaise-en-chene-n-0",
        "product_discount": "/fr/produits/table-en-chene-n-1",
        "product_sold_out": "/fr/produits/table-en-chene-n-5",
        "search": "/fr/recherche?q=chaise",
        "search_none": "/fr/recherche?q=zzzzzz",
        "search_empty": "/fr/recherche",
        "tag": "/fr/etiquettes/bois-massif",
        "cart": "/fr/panier",
        "checkout": "/fr/commande",
        "review": "/fr/commande/recapitulatif",
        "missing": "/fr/pas-de-page-ici",
        "missing_product": "/fr/produits/pas-de-produit",
        "login": "/fr/compte/connexion",
        "register": "/fr/compte/inscription",
        "forgot": "/fr/compte/mot-de-passe-oublie",
        "reset": "/fr/compte/reinitialiser/",
        "dashboard": "/fr/compte/",
        "orders": "/fr/compte/commandes",
        "order": "/fr/compte/commandes/",
        "confirmation": "/fr/commande/confirmation/",
        "recover": "/fr/panier/recuperer?token=",
        "unsubscribe": "/fr/compte/desinscription?token=",
        "pay": "/fr/commande/{token}/payer",
    },
    "en": {
        "home": "/en/",
        "category": "/en/categories/furniture",
        "subcategory": "/en/categories/chairs",
        "product_variants": "/en/products/oak-chair-no-0",
        "product_discount": "/en/products/oak-table-no-1",
        "product_sold_out": "/en/products/oak-table-no-5",
        "search": "/en/search?q=chair",
        "search_none": "/en/search?q=zzzzzz",
        "search_empty": "/en/search",
        "tag": "/en/tags/solid-wood",
        "cart": "/en/cart",
        "checkout": "/en/checkout",
        "review": "/en/checkout/review",
        "missing": "/en/no-page-here",
        "missing_product": "/en/products/no-such-product",
        "login": "/en/account/login",
        "register": "/en/account/register",
        "forgot": "/en/account/forgot-password",
        "reset": "/en/account/reset/",
        "dashboard": "/en/account/",
        "orders": "/en/account/orders",
        "order": "/en/account/orders/",
        "confirmation": "/en/checkout/confirmation/",
        "recover": "/en/cart/recover?token=",
        "unsubscribe": "/en/account/unsubscribe?token=",
        "pay": "/en/checkout/{token}/pay",
    },
}
LANGS = ("fr", "en")
BOTH = ("phone", "laptop")
ADDRESS = {
    "shipping-first_name": "Dominique",
    "shipping-last_name": "Petit",
    "shipping-line1": "12 rue des Lilas",
    "shipping-postal_code": "75011",
    "shipping-city": "Paris",
}
BROWSING = ("home", "category", "subcategory", "product_variants", "product_discount")
BROWSING += ("product_sold_out", "search", "search_none", "search_empty", "tag")


def _everywhere(audit: Audit, name: str, suffix: str = "", status: int = 200) -> None:
    """The page ``name`` in both languages, at both sizes."""
    for lang in LANGS:
        audit.check(PATHS[lang][name] + suffix, status=status, sizes=BOTH)


def _send_checkout(page: Page, **fields: str) -> None:
    for field_id, value in fields.items():
        page.locator(f"#{field_id}").fill(value)
    page.locator("#checkout-form button[type=submit]:not([name=refresh])").click()


def test_storefront_and_checkout_pages_have_no_wcag_violations(fresh: Audit, site: Site):
    for name in BROWSING:
        _everywhere(fresh, name)
    for name in ("missing", "missing_product"):
        _everywhere(fresh, name, status=404)
    _everywhere(fresh, "cart")  # empty
    _everywhere(fresh, "recover", "expired-or-forged", status=404)

    page = fresh.page
    page.goto(site.url + PATHS["fr"]["product_discount"])
    page.locator("form.add-to-cart button[type=submit]").click()
    expect(page.locator("#cart-badge")).to_contain_text("1")
    fresh.here("product after adding to the cart (HTMX)", BOTH)
    _everywhere(fresh, "cart")  # with a line
    _everywhere(fresh, "checkout")

    page.goto(site.url + PATHS["fr"]["checkout"])
    _send_checkout(page, email="not an address")
    expect(page.locator(".field-error").first).to_be_visible()
    fresh.here("checkout details with errors", BOTH)

    page.goto(site.url + PATHS["fr"]["checkout"])
    page.locator("#pay-transfer").check()
    _send_checkout(page, email="dominique@example.com", **ADDRESS)
    expect(page).to_have_url(site.url + PATHS["fr"]["review"])
    _everywhere(fresh, "review")

    page.goto(site.url + PATHS["fr"]["review"])
    page.locator("form.place-order button[type=submit]").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert PATHS["fr"]["confirmation"] in page.url, page.url
    token = page.url.rsplit("/", 1)[1]
    _everywhere(fresh, "confirmation", token)  # bank transfer instructions
    for lang in LANGS:
        fresh.check(PATHS[lang]["pay"].format(token=site.pay_token), sizes=BOTH)

    fresh.assert_clean()


def test_account_pages_have_no_wcag_violations(fresh: Audit, site: Site, _session_app: Flask):
    for name in ("login", "register", "forgot"):
        _everywhere(fresh, name)
    with _session_app.app_context():
        token = accounts.make_reset_token(db.session.get(User, site.customer_id))
    _everywhere(fresh, "reset", token)
    _everywhere(fresh, "reset", "not-a-token", status=400)
    with _session_app.app_context():
        unsubscribe = emails.unsubscribe_token(CUSTOMER)
    _everywhere(fresh, "unsubscribe", unsubscribe)
    _everywhere(fresh, "unsubscribe", "forged", status=400)

    page = fresh.page
    page.goto(site.url + PATHS["fr"]["login"])
    page.locator("#email").fill(CUSTOMER)
    page.locator("#password").fill("not the password")
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".form-errors, .field-error").first).to_be_visible()
    fresh.here("login refused", BOTH)

    page.locator("#email").fill(CUSTOMER)
    page.locator("#password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(site.url + PATHS["fr"]["dashboard"])
    _everywhere(fresh, "dashboard")
    _everywhere(fresh, "orders")
    _everywhere(fresh, "order", site.customer_order)

    fresh.assert_clean()


ADMIN_PAGES = [
    "/admin/",
    "/admin/design",
    "/admin/products",
    "/admin/products/new",
    "/admin/products/{product}",
    "/admin/products/variants/{variant}",
    "/admin/categories",
    "/admin/categories/new",
    "/admin/categories/{category}",
    "/admin/tags",
    "/admin/tags/{tag}",
    "/admin/orders",
    "/admin/orders/{paid_order}",
    "/admin/orders/{pending_order}",
    "/admin/stock",
    "/admin/stock/{variant}",
    "/admin/stock/low",
    "/admin/stock/movements",
    "/admin/stock/reservations",
    "/admin/customers",
    "/admin/customers/{customer}",
    "/admin/customers/{customer}/anonymize",
    "/admin/carts",
    "/admin/kpis",
    "/admin/audit",
    "/admin/outbox",
    "/admin/settings",
    "/admin/settings/identity",
    "/admin/settings/payment",
    "/admin/settings/email",
    "/admin/settings/shipping",
    "/admin/settings/shipping/new",
    "/admin/settings/shipping/{shipping_method}",
    "/admin/settings/taxes",
    "/admin/settings/taxes/new",
    "/admin/settings/taxes/{tax_rate}",
    "/admin/settings/taxes/{tax_rate}/delete",
    "/admin/staff",
    "/admin/two-factor/enrol",
]


def test_back_office_pages_have_no_wcag_violations(fresh: Audit, site: Site, _session_app: Flask):
    client = _session_app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = USER_AGENT  # the session is bound to it
    login_staff(client, _session_app, "admin", "admin.a11y@example.com")
    cookie = client.get_cookie("comptoir_session")
    assert cookie is not None
    fresh.page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": site.url}])
    values = {
        "product": site.products[0],
        "variant": site.variant_id,
        "category": site.category_id,
        "tag": site.tag_id,
        "paid_order": site.paid_order,
        "pending_order": site.pending_order,
        "customer": site.customer_id,
        "shipping_method": site.shipping_method_id,
        "tax_rate": site.tax_rate_id,
    }
    for path in ADMIN_PAGES:
        fresh.check(path.format(**values))

    page = fresh.page  # on the enrolment page: enrol, then the recovery codes and the status
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.locator("#code").fill(pyotp.TOTP(secret).now())
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#recovery-codes li").first).to_be_visible()
    fresh.here("two-factor recovery codes")
    fresh.check("/admin/two-factor")

    fresh.assert_clean()
