"""The customer's orders and invoices in their account, and the documents on the guest
confirmation page: own orders only, the invoice issued by the order_paid event (mail or
not), a "being prepared" box that asks again by itself, PDFs for the owner only."""

from __future__ import annotations

import re

import pytest

from shop.checkout import services as checkout
from shop.checkout.defaults import load_defaults
from shop.emails.models import EmailMessage
from shop.extensions import db
from shop.inventory.services import receive
from shop.invoices.models import Invoice
from shop.invoices.pdf import render_pending
from shop.orders import services as orders
from shop.orders.models import Order
from tests import catalogue_factory
from tests.conftest import Auth
from tests.outbox_support import deliver_outbox
from tests.test_orders import _cart, _details, _variant_of

EMAIL = "camille@example.com"


@pytest.fixture
def shop(app):
    with app.app_context():
        ids = catalogue_factory.build(4)
        load_defaults()
        for product_id in ids["products"]:
            receive(_variant_of(product_id), 100, reason="stock for many orders")
        db.session.commit()
    return ids


@pytest.fixture
def camille(app, make_user) -> int:
    return make_user(EMAIL)


def _place(app, shop, customer_id: int | None, email: str = EMAIL, product: int = 2) -> int:
    with app.app_context():
        cart_id = _cart(_variant_of(shop["products"][product]), 1)
        checkout.start_checkout(cart_id)
        details = _details(email)
        details.customer_id = customer_id
        return checkout.place_order(cart_id, details).id


def _number(app, order_id: int) -> str:
    with app.app_context():
        return db.session.get(Order, order_id).number


def _signed_in(client, lang: str = "fr"):
    response = Auth(client).login(EMAIL, lang=lang)
    assert response.status_code in (302, 303)
    return client


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_the_dashboard_shows_the_latest_orders_and_links_them_all(app, client, shop, camille):
    numbers = [_number(app, _place(app, shop, camille, product=p)) for p in (1, 2, 3, 1)]

    page = _text(_signed_in(client).get("/fr/compte/"))

    assert [n for n in numbers if n in page] == numbers[1:]  # the three latest
    assert 'href="/fr/compte/commandes"' in page
    assert "Voir toutes mes commandes et factures" in page


def test_the_orders_list_shows_own_placed_orders_newest_first(app, client, shop, camille):
    mine = [_number(app, _place(app, shop, camille, product=p)) for p in (1, 2)]
    other = _number(app, _place(app, shop, None, email="other@example.com"))
    guest_same_email = _number(app, _place(app, shop, None))

    page = _text(_signed_in(client).get("/fr/compte/commandes"))

    assert re.findall(r'href="/fr/compte/commandes/([^"]+)"', page) == mine[::-1]
    assert other not in page and guest_same_email not in page
    assert "En attente de paiement" in page
    english = _text(client.get("/en/account/orders"))
    assert "Awaiting payment" in english and f'href="/en/account/orders/{mine[0]}"' in english


def test_the_orders_list_costs_the_same_queries_for_2_or_25_orders(
    app, client, shop, camille, queries
):
    for product in (1, 2):
        _place(app, shop, camille, product=product)
    _signed_in(client)
    with queries() as few:
        assert client.get("/fr/compte/commandes").status_code == 200
    for i in range(23):
        _place(app, shop, camille, product=1 + i % 3)
    with queries() as many:
        page = _text(client.get("/fr/compte/commandes"))

    assert len(many) == len(few)
    assert page.count('href="/fr/compte/commandes/CMD-') == 20
    assert "Page 1 sur 2" in page
    second = _text(client.get("/fr/compte/commandes?page=2"))
    assert second.count('href="/fr/compte/commandes/CMD-') == 5


@pytest.mark.parametrize("page", ["0", "3", "abc", "-1", "1e3"])
def test_a_page_out_of_range_is_a_translated_404(app, client, shop, camille, page):
    _place(app, shop, camille)

    response = _signed_in(client).get(f"/fr/compte/commandes?page={page}")

    assert response.status_code == 404
    assert "Page introuvable" in _text(response)


def test_the_account_pages_ask_for_a_login_first(app, client, shop, camille):
    number = _number(app, _place(app, shop, camille))

    for url in ("/fr/compte/commandes", f"/fr/compte/commandes/{number}"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/fr/compte/connexion?next=")


def test_an_order_page_shows_lines_totals_and_addresses(app, client, shop, camille):
    number = _number(app, _place(app, shop, camille))

    response = _signed_in(client).get(f"/fr/compte/commandes/{number}")

    page = _text(response)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert f"Commande {number}" in page
    assert "Chaise en chêne n°\u00a02" in page
    assert "12 rue des Lilas" in page and "Adresse de facturation" in page
    assert "Veuillez virer" in page  # the transfer still to make
    assert "Votre facture sera disponible ici une fois votre paiement reçu." in page


def test_someone_elses_order_and_documents_are_404s(app, client, shop, camille, make_user):
    other_id = make_user("other@example.com")
    theirs = _place(app, shop, other_id, email="other@example.com")
    with app.app_context():
        orders.mark_paid(theirs, provider="bank_transfer")
    deliver_outbox(app)
    number = _number(app, theirs)
    with app.app_context():
        invoice_id = db.session.scalars(db.select(Invoice.id)).one()

    _signed_in(client)
    for url in (
        f"/fr/compte/commandes/{number}",
        f"/fr/compte/commandes/{number}/factures/{invoice_id}.pdf",
        "/fr/compte/commandes/CMD-0000-000000",
    ):
        with client.get(url) as response:
            assert response.status_code == 404, url
            assert "Page introuvable" in _text(response)


def test_the_invoice_appears_once_the_payment_event_is_handled(app, client, shop, camille, hx):
    order_id = _place(app, shop, camille)
    number = _number(app, order_id)
    url = f"/fr/compte/commandes/{number}"
    _signed_in(client)
    with app.app_context():
        orders.mark_paid(order_id, provider="bank_transfer")

    waiting = _text(client.get(url))
    assert "Votre facture est en cours de préparation" in waiting
    assert f'hx-get="{url}?poll=1" hx-trigger="load delay:5s"' in waiting
    assert f'<a href="{url}">Actualiser la page</a>' in waiting  # without JavaScript

    still = client.get(f"{url}?poll=1", headers=hx())
    assert _text(still).lstrip().startswith('<section id="order-documents"')
    assert f'hx-get="{url}?poll=2"' in _text(still)
    deliver_outbox(app, render=False)  # the invoice is issued; its PDF is not rendered yet
    issued = _text(client.get(f"{url}?poll=2", headers=hx()))
    assert "Votre facture est en cours de préparation" in issued
    assert "factures/" not in issued  # no link to a PDF that does not exist yet
    assert f'hx-get="{url}?poll=3"' in issued
    with app.app_context():
        assert render_pending() == 1  # the job the handler deferred
    ready = _text(client.get(f"{url}?poll=3", headers=hx()))

    with app.app_context():
        invoice = db.session.scalars(db.select(Invoice)).one()
    assert "hx-get" not in ready  # no more asking
    link = f"/fr/compte/commandes/{number}/factures/{invoice.id}.pdf"
    assert f'<a href="{link}" type="application/pdf">Facture {invoice.full_number}</a>' in ready
    with client.get(link) as pdf:
        assert pdf.status_code == 200
        assert pdf.mimetype == "application/pdf"
        assert pdf.data.startswith(b"%PDF")
        assert pdf.headers["Cache-Control"] == "private, no-store"


def test_the_polling_stops_after_five_minutes(app, client, shop, camille, hx):
    order_id = _place(app, shop, camille)
    with app.app_context():
        orders.mark_paid(order_id, provider="bank_transfer")
    url = f"/fr/compte/commandes/{_number(app, order_id)}"

    last = _text(_signed_in(client).get(f"{url}?poll=60", headers=hx()))

    assert "Votre facture est en cours de préparation" in last
    assert "hx-get" not in last


def test_the_invoice_is_issued_even_when_no_mail_can_be_sent(app, shop, camille):
    order_id = _place(app, shop, camille)
    deliver_outbox(app)  # the welcome and order confirmation mails
    with app.app_context():
        orders.mark_paid(order_id, provider="bank_transfer")
        order = db.session.get(Order, order_id)
        order.email = "erased-1@anonymized.invalid"  # as an anonymization leaves it
        db.session.commit()
        mails_before = db.session.scalar(db.select(db.func.count()).select_from(EmailMessage))

    deliver_outbox(app)

    with app.app_context():
        [invoice] = db.session.scalars(db.select(Invoice)).all()
        assert invoice.order_id == order_id and invoice.kind == "invoice"
        mails = db.session.scalar(db.select(db.func.count()).select_from(EmailMessage))
        assert mails == mails_before  # no payment mail to an .invalid address


def test_a_refund_adds_its_credit_note_to_both_pages(app, client, shop, camille):
    order_id = _place(app, shop, camille)
    with app.app_context():
        orders.mark_paid(order_id, provider="bank_transfer")
        orders.refund(order_id, 500, reason="geste commercial")
        token = orders.access_token(db.session.get(Order, order_id))
    deliver_outbox(app)
    with app.app_context():
        invoice, note = db.session.scalars(db.select(Invoice).order_by(Invoice.id)).all()
    number = _number(app, order_id)

    account = _text(_signed_in(client).get(f"/fr/compte/commandes/{number}"))
    guest = _text(client.get(f"/fr/commande/confirmation/{token}"))

    assert f"Facture {invoice.full_number}" in account
    assert f"Avoir {note.full_number}" in account
    assert "Remboursé" in account
    assert f'href="/fr/commande/{token}/facture/{note.id}.pdf"' in guest
    assert f'href="/fr/commande/{token}/facture/{invoice.id}.pdf"' in guest
    with client.get(f"/fr/commande/{token}/facture/{note.id}.pdf") as pdf:
        assert pdf.data.startswith(b"%PDF")


def test_the_english_pages_speak_english(app, client, shop, camille):
    order_id = _place(app, shop, camille)
    with app.app_context():
        orders.mark_paid(order_id, provider="bank_transfer")
    deliver_outbox(app)
    number = _number(app, order_id)

    page = _text(_signed_in(client, "en").get(f"/en/account/orders/{number}"))

    assert f"Order {number}" in page and "Billing address" in page
    assert re.search(r'href="/en/account/orders/[^/]+/invoices/\d+\.pdf" [^>]*>Invoice F-', page)
