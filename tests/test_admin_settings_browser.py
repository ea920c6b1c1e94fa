"""The settings pages in Chromium: HTMX saves in place (identity, Stripe keys), the tax-rate
country filter swaps the table, a delivery method is withdrawn from its own row; no console
error (strict CSP) and no secret in the page after saving it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from shop.checkout.defaults import load_defaults
from shop.checkout.models import ShippingMethod
from shop.extensions import db
from shop.platform import crypto
from shop.platform.models import PlatformConfig
from tests.admin_support import login_staff
from tests.test_payments_browser import watch_console

pytestmark = pytest.mark.browser

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Comptoir-settings-journey"
SECRET = "sk_test_browserjourney0123456789"


@pytest.fixture
def admin_page(app, live, browser: Browser):
    """A Chromium page signed in as an administrator (two-factor passed), in French."""
    with app.app_context():
        load_defaults()
        db.session.commit()
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = USER_AGENT  # the session is bound to it
    login_staff(client, app, "admin")
    cookie = client.get_cookie("comptoir_session")
    context = browser.new_context(user_agent=USER_AGENT)
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live.url}])
    page = context.new_page()
    yield page
    context.close()


def test_settings_journey_with_htmx(app, live, admin_page):
    page = admin_page
    problems = watch_console(page)

    # Store identity: an invalid SIRET is refused in place, then a valid one is saved in place.
    page.goto(live.url + "/admin/settings/identity")
    page.get_by_label("Dénomination sociale").fill("Comptoir SAS")
    page.get_by_label("Adresse du siège").fill("12 rue des Lilas\n75011 Paris")
    page.get_by_label("SIREN ou SIRET").fill("732 829 320 00075")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#siret-error")).to_contain_text("Ce numéro n’est pas valide")
    expect(page.get_by_label("Dénomination sociale")).to_have_value("Comptoir SAS")
    page.get_by_label("SIREN ou SIRET").fill("73282932000074")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#identity-form .settings-notice")).to_have_text("Paramètres enregistrés.")
    expect(page.get_by_label("SIREN ou SIRET")).to_have_value("732 829 320 00074")
    assert page.url.endswith("/admin/settings/identity")

    # Tax rates: the country filter swaps the table and keeps a shareable address.
    page.goto(live.url + "/admin/settings/taxes")
    page.get_by_label("Pays").select_option("CA")
    expect(page.locator("#tax-rates")).not_to_contain_text("Allemagne")
    expect(page.locator("#tax-rates")).to_contain_text("Québec")
    page.wait_for_url("**/admin/settings/taxes?country=CA")

    # A delivery method withdrawn from its own row.
    with app.app_context():
        europe = db.session.execute(
            db.select(ShippingMethod.id).where(ShippingMethod.code == "europe")
        ).scalar_one()
    page.goto(live.url + "/admin/settings/shipping")
    row = page.locator(f"#shipping-method-{europe}")
    row.get_by_role("button", name="Retirer").click()
    expect(row).to_contain_text("Retiré")
    expect(row.get_by_role("button", name="Proposer à nouveau")).to_be_visible()

    # Stripe: the secret key is saved in place and never comes back into the page.
    page.goto(live.url + "/admin/settings/payment")
    page.get_by_label("Clé publiable").fill("pk_test_browserjourney")
    page.get_by_label("Clé secrète").fill(SECRET)
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#payment-settings .settings-notice")).to_have_text(
        "Paramètres enregistrés."
    )
    expect(page.get_by_label("Clé secrète")).to_have_value("")
    assert SECRET not in page.content()
    with app.app_context():
        stored = db.session.get(PlatformConfig, "stripe_secret_key")
        assert stored.encrypted and crypto.decrypt(stored.value) == SECRET

    # The refused SIRET answered 422 on purpose; anything else (a CSP violation) is a failure.
    assert [p for p in problems if "status of 422" not in p] == []
