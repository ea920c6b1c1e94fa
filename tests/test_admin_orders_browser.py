"""Order journeys in Chromium: a manager refunds part of a card order through localstripe
(a refused amount first, answered in place by HTMX), then ships a paid order."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from shop.extensions import db
from shop.inventory.models import InventoryMovement
from shop.orders.models import Order, OrderStatus
from tests.admin_orders_support import paid_card_order
from tests.admin_support import login_staff
from tests.test_payments import refunds_at_stripe, stripe_client
from tests.test_payments_browser import watch_console

pytestmark = pytest.mark.browser


def re_search(text: str):
    """The list's URL once the search has run (pushed by HTMX, shareable)."""
    return re.compile(rf".*/admin/orders\?(.*&)?q={text}(&.*)?$")


USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Comptoir-orders-journey"


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


def test_a_manager_refunds_part_of_a_card_order_then_ships_it(
    app, live, manager_page: Page, test_env
):
    page = manager_page
    problems = watch_console(page)
    order_id, intent_id = paid_card_order(app, test_env)
    with app.app_context():
        number = db.session.get(Order, order_id).number

    # From the list, searching as you type.
    page.goto(live.url + "/admin/orders")
    page.get_by_label("Rechercher").fill(number[-6:])
    expect(page).to_have_url(re_search(number[-6:]))
    page.locator("#order-results").get_by_role("link", name=number).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Commande {number}")

    # Too much: refused in place, what was typed is kept, nothing reaches Stripe.
    page.get_by_text("Remboursement", exact=True).click()
    amount = page.get_by_label("Montant à rembourser")
    expect(amount).to_have_value("75,90")
    amount.fill("80,00")
    page.get_by_role("button", name="Rembourser ce montant").click()
    expect(page.locator("#order-actions .field-error")).to_contain_text(
        "Un remboursement ne peut pas dépasser ce qui reste à rembourser"
    )
    expect(page.get_by_label("Montant à rembourser")).to_have_value("80,00")
    assert refunds_at_stripe(stripe_client(test_env), intent_id) == []

    # A partial refund with one unit back in stock.
    page.get_by_label("Montant à rembourser").fill("15,00")
    page.get_by_label("Raison (facultatif)").first.fill("Lampe rayée")
    page.locator("#order-actions input[name^=restock-]").first.fill("1")
    page.get_by_role("button", name="Rembourser ce montant").click()
    expect(page.locator(".flash-success")).to_contain_text("15,00\u00a0€ remboursés.")
    expect(page.locator("h1 .pill")).to_have_text("Partiellement remboursée")
    expect(page.locator(".admin-timeline")).to_contain_text("Remboursement de 15,00\u00a0€")
    assert refunds_at_stripe(stripe_client(test_env), intent_id) == [1500]
    with app.app_context():
        assert (
            db.session.scalar(
                db.select(db.func.sum(InventoryMovement.quantity)).where(
                    InventoryMovement.order_id == order_id, InventoryMovement.kind == "return"
                )
            )
            == 1
        )

    # Shipping it: the carrier from the list, the number as printed on the label.
    page.get_by_text("Expédier la commande", exact=True).click()
    page.get_by_label("Transporteur", exact=True).select_option("colissimo")
    page.get_by_label("Numéro de suivi").fill("6a 123 456 789 01")
    page.get_by_role("button", name="Marquer comme expédiée").click()
    expect(page.locator(".flash-success")).to_contain_text("marquée comme expédiée")
    expect(page.locator(".admin-timeline")).to_contain_text("numéro de suivi 6A12345678901")
    with app.app_context():
        assert db.session.get(Order, order_id).status == OrderStatus.FULFILLED
    # The refused refund answered 422 on purpose (Chromium logs it); nothing else went wrong,
    # no CSP violation in particular.
    assert [p for p in problems if "status of 422" not in p] == []
