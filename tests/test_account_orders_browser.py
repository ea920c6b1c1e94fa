"""The customer's order page in Chromium: the "being prepared" box turns into the invoice
link by itself once the worker has issued it (HTMX), and the PDF opens; no script error."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from shop.extensions import db
from shop.invoices.models import Invoice
from shop.orders import services as orders
from tests.conftest import PASSWORD
from tests.outbox_support import deliver_outbox
from tests.test_account_orders import EMAIL, _number, _place, camille, shop  # noqa: F401

pytestmark = pytest.mark.browser


def test_the_invoice_link_appears_without_a_reload(app, live, shop, camille, page: Page):  # noqa: F811
    order_id = _place(app, shop, camille)
    deliver_outbox(app)  # welcome and confirmation mails
    with app.app_context():
        orders.mark_paid(order_id, provider="bank_transfer")
    number = _number(app, order_id)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{live.url}/fr/compte/connexion")
    page.get_by_label("Adresse e-mail").fill(EMAIL)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Mon compte")).to_be_visible()
    page.get_by_role("link", name="Voir toutes mes commandes et factures").click()
    page.get_by_role("link", name=number).click()
    box = page.locator("#order-documents")
    expect(box).to_contain_text("Votre facture est en cours de préparation")
    page.evaluate("window.__noReload = true")

    deliver_outbox(app)  # what the worker does: the order_paid event issues the invoice

    with app.app_context():
        full_number = db.session.scalars(db.select(Invoice.full_number)).one()
    link = box.get_by_role("link", name=f"Facture {full_number}")
    expect(link).to_be_visible(timeout=15_000)
    assert page.evaluate("window.__noReload") is True
    response = page.request.get(live.url + link.get_attribute("href"))
    assert response.status == 200
    assert response.body().startswith(b"%PDF")
    assert errors == []
