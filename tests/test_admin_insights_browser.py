"""The customer, cart and statistics pages in Chromium: search as you type, a GDPR
anonymization through its confirmation, the SVG charts under the strict CSP."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from shop.accounts.models import User
from shop.extensions import db
from shop.orders import services as orders
from tests import order_factory
from tests.admin_support import login_staff
from tests.test_admin_kpis import march_sales
from tests.test_payments_browser import watch_console

pytestmark = pytest.mark.browser

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Comptoir-insights-journey"


@pytest.fixture
def sales(app) -> dict[str, int]:
    with app.app_context():
        return march_sales()


@pytest.fixture
def manager_page(app, live, browser: Browser):
    """A Chromium page signed in as a manager (two-factor passed), working in French."""
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = USER_AGENT  # the session is bound to it
    login_staff(client, app, "manager")
    cookie = client.get_cookie("comptoir_session")
    context = browser.new_context(user_agent=USER_AGENT)
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live.url}])
    page = context.new_page()
    yield page
    context.close()


def test_find_a_customer_as_you_type_then_anonymize_them(
    app, live, manager_page: Page, sales, make_user
):
    page = manager_page
    problems = watch_console(page)
    customer = make_user("jeanne.moreau@example.com")
    make_user("paul@example.com")
    with app.app_context():
        address = {**order_factory.ADDRESS, "first_name": "Jeanne", "last_name": "Moreau"}
        pending = order_factory.place(
            [(sales["variants"][2], 1)],
            email="jeanne.moreau@example.com",
            customer_id=customer,
            address=address,
            paid=False,
        )
        orders.cancel(pending)  # nothing in progress: the anonymization may go ahead

    page.goto(live.url + "/admin/customers")
    page.get_by_label("Rechercher par e-mail ou par nom").fill("moreau")
    results = page.locator("#customer-results")
    expect(results).to_contain_text("jeanne.moreau@example.com")
    expect(results).not_to_contain_text("paul@example.com")
    expect(page).to_have_url(live.url + "/admin/customers?q=moreau")  # shareable

    results.get_by_role("link", name="jeanne.moreau@example.com").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("jeanne.moreau@example.com")
    page.get_by_role("link", name="Anonymiser…").click()
    page.get_by_role("button", name="Anonymiser ce client").click()
    expect(page.locator(".field-error")).to_have_text(
        "Cochez la case pour confirmer l’anonymisation."
    )
    page.get_by_label("J’ai vérifié la demande de ce client").check()
    page.get_by_role("button", name="Anonymiser ce client").click()
    expect(page).to_have_url(live.url + f"/admin/customers/{customer}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        f"anonymized-{customer}@anonymized.invalid"
    )
    with app.app_context():
        assert db.session.get(User, customer).anonymized_at is not None
    # The unticked box's 422 is logged by Chromium as a failed load; nothing else.
    assert [p for p in problems if "422" not in p] == []


def test_statistics_charts_render_under_the_csp(app, live, manager_page: Page, sales):
    page = manager_page
    problems = watch_console(page)
    page.goto(live.url + "/admin/kpis?preset=custom&start=2026-03-01&end=2026-03-07")
    chart = page.get_by_role("img", name="Chiffre d’affaires par jour")
    expect(chart).to_be_visible()
    assert chart.bounding_box()["height"] > 150
    expect(page.get_by_role("img", name="Meilleures ventes par chiffre d’affaires")).to_be_visible()
    expect(page.locator(".kpi-cards")).to_contain_text("46,00\u00a0€")
    page.get_by_label("Période", exact=True).select_option("7d")  # HTMX swaps the report
    expect(page).to_have_url(live.url + "/admin/kpis?preset=7d&start=2026-03-01&end=2026-03-07")
    expect(page.locator(".kpi-periods")).to_contain_text("(7 jours)")
    assert problems == []
