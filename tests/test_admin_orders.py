"""Back-office orders: the list and its filters, one order's page and timeline, and every move
staff make (fulfil, confirm a transfer, complete, cancel, refund through localstripe, send an
email again), each audited, each refused with a translated 4xx that changes nothing."""

# ruff: noqa: F811 (the shared ``shop`` fixture is imported, then requested by name)
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask_babel import force_locale

from shop.audit.models import AuditLog
from shop.backoffice import orders as admin_queries
from shop.clock import utcnow
from shop.emails.models import EmailMessage
from shop.extensions import db
from shop.inventory.models import InventoryMovement, InventoryReservation
from shop.invoices.models import Invoice
from shop.invoices.pdf import render_pending
from shop.orders import fulfilment
from shop.orders.models import Order, OrderLine, OrderStatus, Refund, Shipment
from shop.outbox.models import OutboxEvent
from tests.admin_orders_support import bank_order, paid_card_order, shop  # noqa: F401
from tests.admin_support import admin_csrf, login_staff
from tests.outbox_support import deliver_outbox
from tests.test_payments import (
    TOTAL,
    place_pending_order,
    refunds_at_stripe,
    stripe_client,
)


def audit_entries(app, order_id: int) -> list[AuditLog]:
    with app.app_context():
        return list(
            db.session.execute(
                db.select(AuditLog)
                .where(AuditLog.entity_type == "order", AuditLog.entity_id == str(order_id))
                .order_by(AuditLog.id)
            ).scalars()
        )


def order_state(app, order_id: int) -> tuple[str, int, int, int]:
    """(status, refunded, refunds, outbox events): what a refused move must leave alone."""
    with app.app_context():
        order = db.session.get(Order, order_id)
        refunds = db.session.scalar(
            db.select(db.func.count(Refund.id)).where(Refund.order_id == order_id)
        )
        events = db.session.scalar(db.select(db.func.count(OutboxEvent.id)))
        return order.status, order.amount_refunded, refunds, events


@pytest.fixture
def staff(app):
    """A manager's browser on the back office (two-factor passed), with its CSRF token."""
    client = app.test_client()
    user_id = login_staff(client, app, "manager")
    client.user_id = user_id
    client.token = admin_csrf(client)
    return client


def in_french(app, message) -> str:
    with app.test_request_context(), force_locale("fr"):
        return str(message)


def post(client, url: str, **data):
    return client.post(url, data={"csrf_token": client.token, **data})


def text_of(response) -> str:
    return response.get_data(as_text=True)


# -- the list ------------------------------------------------------------------------------------


def _rename(app, order_id: int, first: str, last: str, *, days_ago: int = 0) -> str:
    with app.app_context():
        order = db.session.get(Order, order_id)
        order.billing_address = {**order.billing_address, "first_name": first, "last_name": last}
        order.placed_at = utcnow() - timedelta(days=days_ago)
        db.session.commit()
        return order.number


def test_the_list_searches_by_number_email_and_name_and_filters(app, shop, staff, test_env):
    zoe = bank_order(app, shop, "zoe@example.com")
    zoe_number = _rename(app, zoe, "Zoé", "Lefèvre", days_ago=10)
    sam = bank_order(app, shop, "sam@example.com", quantity=1)
    sam_number = _rename(app, sam, "Sam", "Martin")
    card, _intent = paid_card_order(app, test_env)
    with app.app_context():
        card_number = db.session.get(Order, card).number

    def numbers(query: str) -> set[str]:
        response = staff.get(f"/admin/orders?{query}")
        assert response.status_code == 200, query
        return set(re.findall(r"CMD-\d{4}-\d{6}", text_of(response)))

    assert numbers("") == {zoe_number, sam_number, card_number}
    assert numbers("q=lefèvre") == {zoe_number}
    assert numbers("q=Zoé+Lef") == {zoe_number}
    assert numbers("q=sam%40example") == {sam_number}
    assert numbers(f"q={sam_number}") == {sam_number}
    assert numbers("q=100%25") == set()  # % is a character, not a wildcard
    assert numbers("status=paid") == {card_number}
    assert numbers("status=pending_payment&payment=bank_transfer") == {zoe_number, sam_number}
    assert numbers("payment=card") == {card_number}
    today = utcnow().date()
    assert numbers(f"from={today - timedelta(days=1)}") == {sam_number, card_number}
    assert numbers(f"to={today - timedelta(days=5)}") == {zoe_number}
    with app.app_context():
        totals = {o.number: o.total for o in db.session.execute(db.select(Order)).scalars()}
    # Amounts as the staff member writes them (French: decimal comma).
    low = min(totals.values())
    french = f"{low // 100},{low % 100:02d}"
    assert numbers(f"max={french}") == {n for n, t in totals.items() if t <= low}
    assert numbers(f"min={french}") == set(totals)


def test_a_bad_filter_is_a_translated_400_that_keeps_what_was_typed(app, shop, staff):
    bank_order(app, shop)

    response = staff.get("/admin/orders?min=douze&from=22/11/2026&q=camille")

    assert response.status_code == 400
    page = text_of(response)
    assert "Veuillez saisir un montant tel que 12,50 ou 12.50." in page
    assert "Veuillez saisir une date telle que 2026-11-22." in page
    assert 'value="douze"' in page and 'value="camille"' in page
    assert "1 commande" in page  # the other filters still apply


def test_htmx_gets_the_results_alone_and_the_url_is_shareable(app, shop, staff, hx):
    bank_order(app, shop)

    response = staff.get("/admin/orders?q=camille", headers=hx())

    assert response.status_code == 200
    fragment = text_of(response)
    assert fragment.lstrip().startswith('<section id="order-results"')
    assert "<html" not in fragment
    assert "HX-Request" in response.headers["Vary"]
    full = text_of(staff.get("/admin/orders?q=camille"))
    assert 'hx-push-url="true"' in full and 'method="get"' in full


def test_the_list_runs_the_same_queries_for_2_or_12_orders(app, shop, staff, queries):
    for _ in range(2):
        bank_order(app, shop, quantity=1)
    staff.get("/admin/orders")  # warm up (sessions, templates)
    with queries() as few:
        assert staff.get("/admin/orders").status_code == 200
    for _ in range(10):
        bank_order(app, shop, quantity=1)
    with queries() as many:
        page = text_of(staff.get("/admin/orders"))
    assert page.count("CMD-") >= 12
    assert len(many) == len(few)


# -- one order ---------------------------------------------------------------------------------


def test_the_order_page_tells_its_story_in_date_order(app, shop, staff):
    order_id = bank_order(app, shop)
    deliver_outbox(app)  # the confirmation email is queued
    assert post(staff, f"/admin/orders/{order_id}/mark-paid", confirm="y").status_code == 303
    deliver_outbox(app)  # the payment receipt is queued

    page = text_of(staff.get(f"/admin/orders/{order_id}"))

    with app.app_context():
        order = db.session.get(Order, order_id)
        [line] = order.lines
        number, sku = order.number, line.sku
    assert f"Commande {number}" in page
    assert sku in page and "Table en chêne n°\u00a03" in page
    assert "12 rue des Lilas" in page and "75011 Paris" in page
    assert "TVA" in page
    timeline = page[page.index('class="admin-timeline"') :]
    steps = [
        "Commande passée",
        "Tentative de paiement",
        "Événement order_placed",
        "E-mail «\u202fConfirmation de commande\u202f» à camille@example.com",
        "Paiement reçu\u00a0: ",
        f"Stock -2 × {sku} (vente)",
        "Événement order_paid",
        "a marqué le virement comme reçu",
        "E-mail «\u202fPaiement reçu\u202f» à camille@example.com",
    ]
    missing = [step for step in steps if step not in timeline]
    assert missing == []
    # In date order: what happened at checkout, then the payment and what it set off.
    order_of = [timeline.index(step) for step in steps]
    assert order_of[0] < order_of[3] < order_of[4] < order_of[8]
    assert max(order_of[:4]) < min(order_of[4:])


def test_the_order_page_runs_the_same_queries_however_long_its_story(app, shop, staff, queries):
    short = bank_order(app, shop, quantity=1)
    long = bank_order(app, shop, quantity=3)
    deliver_outbox(app)
    post(staff, f"/admin/orders/{long}/mark-paid", confirm="y")
    deliver_outbox(app)
    post(staff, f"/admin/orders/{long}/refund", amount="1,00", reason="geste")
    staff.get(f"/admin/orders/{short}")
    with queries() as few:
        assert staff.get(f"/admin/orders/{short}").status_code == 200
    with queries() as many:
        assert staff.get(f"/admin/orders/{long}").status_code == 200
    assert len(many) == len(few)


def test_an_unknown_order_is_a_404(staff):
    assert staff.get("/admin/orders/999999").status_code == 404


# -- confirming a bank transfer ----------------------------------------------------------------


def test_marking_a_transfer_paid_sells_the_stock_and_is_audited(app, shop, staff):
    order_id = bank_order(app, shop)

    response = post(staff, f"/admin/orders/{order_id}/mark-paid", confirm="y")

    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/orders/{order_id}"
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.status == OrderStatus.PAID and order.paid_at is not None
        assert (
            db.session.scalar(
                db.select(db.func.count(InventoryReservation.id)).where(
                    InventoryReservation.order_id == order_id
                )
            )
            == 0
        )
        types = [e.type for e in admin_queries.order_events(order_id)]
        assert types == ["order_placed", "order_paid"]
    [entry] = audit_entries(app, order_id)
    assert (entry.action, entry.actor_id) == ("order.mark_paid", staff.user_id)
    assert (entry.before, entry.after) == ({"status": "pending_payment"}, {"status": "paid"})
    assert "Le virement est enregistré" in text_of(staff.get(f"/admin/orders/{order_id}"))


def test_marking_paid_needs_the_confirmation(app, shop, staff):
    order_id = bank_order(app, shop)
    before = order_state(app, order_id)

    response = post(staff, f"/admin/orders/{order_id}/mark-paid")

    assert response.status_code == 422
    assert "Veuillez confirmer que le virement est arrivé." in text_of(response)
    assert order_state(app, order_id) == before
    assert audit_entries(app, order_id) == []


@pytest.mark.parametrize("case", ["card", "already paid"])
def test_marking_paid_is_refused_where_it_makes_no_sense(app, shop, staff, test_env, case):
    if case == "card":
        with app.app_context():
            order_id = place_pending_order(payment_method="card")
        message = "Seule une commande payée par virement bancaire"
    else:
        order_id = bank_order(app, shop)
        post(staff, f"/admin/orders/{order_id}/mark-paid", confirm="y")
        message = "Cette commande n’attend pas de paiement."
    before, audited = order_state(app, order_id), len(audit_entries(app, order_id))

    response = post(staff, f"/admin/orders/{order_id}/mark-paid", confirm="y")

    assert response.status_code == 409
    assert message in text_of(response)
    assert order_state(app, order_id) == before
    assert len(audit_entries(app, order_id)) == audited


# -- cancelling --------------------------------------------------------------------------------


def test_cancelling_an_unpaid_order_gives_its_stock_back_and_is_audited(app, shop, staff):
    order_id = bank_order(app, shop)

    response = post(
        staff, f"/admin/orders/{order_id}/cancel", confirm="y", reason="Client injoignable"
    )

    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Order, order_id).status == OrderStatus.CANCELLED
        assert db.session.scalar(db.select(db.func.count(InventoryReservation.id))) == 0
        [event] = db.session.execute(
            db.select(OutboxEvent).where(OutboxEvent.type == "order_cancelled")
        ).scalars()
        assert event.payload["reason"] == "Client injoignable"
    [entry] = audit_entries(app, order_id)
    assert entry.action == "order.cancel"
    assert entry.before == {"status": "pending_payment"}
    assert entry.after == {"status": "cancelled", "reason": "Client injoignable"}


def test_cancelling_a_paid_order_is_an_invalid_transition(app, shop, staff, hx):
    order_id = bank_order(app, shop)
    post(staff, f"/admin/orders/{order_id}/mark-paid", confirm="y")
    before, audited = order_state(app, order_id), len(audit_entries(app, order_id))

    response = staff.post(
        f"/admin/orders/{order_id}/cancel",
        data={"csrf_token": staff.token, "confirm": "y", "reason": "trop tard"},
        headers=hx(),
    )

    assert response.status_code == 409
    fragment = text_of(response)
    assert fragment.lstrip().startswith('<section id="order-actions"')
    assert "Seule une commande non payée peut être annulée." in fragment
    assert order_state(app, order_id) == before
    assert len(audit_entries(app, order_id)) == audited


# -- shipping and completing -------------------------------------------------------------------


def test_fulfilling_records_the_shipment_and_sends_the_shipped_email(app, shop, staff):
    order_id = bank_order(app, shop)
    post(staff, f"/admin/orders/{order_id}/mark-paid", confirm="y")

    response = post(
        staff,
        f"/admin/orders/{order_id}/fulfil",
        carrier="colissimo",
        tracking_number="6a 123 456 789 01",
    )

    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Order, order_id).status == OrderStatus.FULFILLED
        [shipment] = db.session.execute(db.select(Shipment)).scalars()
        assert (shipment.carrier, shipment.tracking_number) == ("colissimo", "6A12345678901")
    entry = audit_entries(app, order_id)[-1]
    assert entry.action == "order.fulfil"
    assert entry.before == {"status": "paid"}
    assert entry.after["status"] == "fulfilled" and entry.after["carrier"] == "colissimo"
    deliver_outbox(app)
    with app.app_context():
        [shipped] = db.session.execute(
            db.select(EmailMessage).where(EmailMessage.kind == "order_shipped")
        ).scalars()
        assert shipped.to_address == "camille@example.com"
        assert "6A12345678901" in shipped.text_body
    page = text_of(staff.get(f"/admin/orders/{order_id}"))
    assert "Expédiée avec Colissimo, numéro de suivi 6A12345678901" in page
    # Lost by the customer: sent again, with the same tracking link.
    assert post(staff, f"/admin/orders/{order_id}/resend", kind="order_shipped").status_code == 303
    with app.app_context():
        again = db.session.execute(
            db.select(EmailMessage)
            .where(EmailMessage.kind == "order_shipped")
            .order_by(EmailMessage.id.desc())
            .limit(1)
        ).scalar_one()
        assert again.id != shipped.id and again.text_body == shipped.text_body

    response = post(staff, f"/admin/orders/{order_id}/complete", confirm="y")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Order, order_id).status == OrderStatus.COMPLETED
    assert audit_entries(app, order_id)[-1].action == "order.complete"


def test_a_bad_tracking_number_is_a_422_that_keeps_the_input(app, shop, staff):
    order_id = bank_order(app, shop)
    post(staff, f"/admin/orders/{order_id}/mark-paid", confirm="y")
    before = order_state(app, order_id)

    response = post(
        staff, f"/admin/orders/{order_id}/fulfil", carrier="colissimo", tracking_number="#?!"
    )

    assert response.status_code == 422
    page = text_of(response)
    assert "numéro de suivi" in page and 'value="#?!"' in page
    assert order_state(app, order_id) == before


def test_fulfilling_an_unpaid_order_is_an_invalid_transition(app, shop, staff):
    order_id = bank_order(app, shop)
    before = order_state(app, order_id)

    response = post(
        staff, f"/admin/orders/{order_id}/fulfil", carrier="colissimo", tracking_number="6A1234"
    )

    assert response.status_code == 409
    assert in_french(app, fulfilment.NotShippable.message) in text_of(response)
    assert order_state(app, order_id) == before
    assert audit_entries(app, order_id) == []
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Shipment.id))) == 0


# -- refunds -----------------------------------------------------------------------------------


def _lines(app, order_id: int) -> list[tuple[int, int, int]]:
    """(line id, variant id, quantity) in line order."""
    with app.app_context():
        return [
            (line.id, line.variant_id, line.quantity)
            for line in db.session.execute(
                db.select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id)
            ).scalars()
        ]


def test_a_partial_refund_through_stripe_with_a_return_to_stock(app, staff, test_env):
    order_id, intent_id = paid_card_order(app, test_env)
    [(first_line, variant_id, _), _] = _lines(app, order_id)

    response = post(
        staff,
        f"/admin/orders/{order_id}/refund",
        amount="10,00",
        reason="Lampe abîmée",
        **{f"restock-{first_line}": "1"},
    )

    assert response.status_code == 303, text_of(response)
    assert refunds_at_stripe(stripe_client(test_env), intent_id) == [1000]
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert (order.status, order.amount_refunded) == (OrderStatus.PARTIALLY_REFUNDED, 1000)
        [refund] = db.session.execute(db.select(Refund)).scalars()
        assert refund.provider_refund_id.startswith("re_")
        assert (refund.actor_id, refund.reason, refund.restocked) == (
            staff.user_id,
            "Lampe abîmée",
            True,
        )
        [back] = db.session.execute(
            db.select(InventoryMovement).where(InventoryMovement.kind == "return")
        ).scalars()
        assert (back.variant_id, back.quantity, back.order_id) == (variant_id, 1, order_id)
    [entry] = audit_entries(app, order_id)
    assert entry.action == "order.refund"
    assert entry.after == {
        "status": "partially_refunded",
        "amount_refunded": 1000,
        "refund": 1000,
        "restock": {str(first_line): 1},
        "reason": "Lampe abîmée",
    }
    page = text_of(staff.get(f"/admin/orders/{order_id}"))
    assert "Remboursement de 10,00\u00a0€" in page


def test_the_rest_refunded_through_stripe_makes_the_order_refunded(app, staff, test_env):
    order_id, intent_id = paid_card_order(app, test_env)
    post(staff, f"/admin/orders/{order_id}/refund", amount="10")
    rest = TOTAL - 1000

    response = post(
        staff, f"/admin/orders/{order_id}/refund", amount=f"{rest // 100},{rest % 100:02d}"
    )

    assert response.status_code == 303
    assert refunds_at_stripe(stripe_client(test_env), intent_id) == [1000, rest]
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert (order.status, order.amount_refunded) == (OrderStatus.REFUNDED, TOTAL)


def test_a_refund_above_what_was_paid_is_refused_before_stripe(app, staff, test_env):
    order_id, intent_id = paid_card_order(app, test_env)
    before = order_state(app, order_id)
    too_much = TOTAL + 1

    response = post(
        staff,
        f"/admin/orders/{order_id}/refund",
        amount=f"{too_much // 100},{too_much % 100:02d}",
        reason="erreur",
    )

    assert response.status_code == 422
    page = text_of(response)
    assert "Un remboursement ne peut pas dépasser ce qui reste à rembourser" in page
    assert f'value="{too_much // 100},{too_much % 100:02d}"' in page and 'value="erreur"' in page
    assert order_state(app, order_id) == before
    assert refunds_at_stripe(stripe_client(test_env), intent_id) == []
    assert audit_entries(app, order_id) == []


@pytest.mark.parametrize(
    ("amount", "restock", "message"),
    [
        ("", "", "Veuillez saisir le montant à rembourser."),
        ("douze", "", "Veuillez saisir un montant tel que 12,50 ou 12.50."),
        ("12,345", "", "Veuillez saisir un montant tel que 12,50 ou 12.50."),
        ("-5", "", "Veuillez saisir un montant tel que 12,50 ou 12.50."),
        ("0", "", "Le montant doit être supérieur à zéro."),
        ("5", "3", "Au plus 2 unités peuvent revenir en stock."),
        ("5", "deux", "Veuillez saisir un nombre entier, 0 ou plus."),
    ],
)
def test_bad_refund_input_is_a_422_that_changes_nothing(
    app, staff, test_env, amount, restock, message
):
    order_id, intent_id = paid_card_order(app, test_env)
    [(first_line, _, quantity), _] = _lines(app, order_id)
    assert quantity == 2
    before = order_state(app, order_id)

    response = post(
        staff,
        f"/admin/orders/{order_id}/refund",
        amount=amount,
        **{f"restock-{first_line}": restock},
    )

    assert response.status_code == 422
    assert message in text_of(response)
    assert order_state(app, order_id) == before
    assert refunds_at_stripe(stripe_client(test_env), intent_id) == []


def test_refunding_a_bank_transfer_records_it_without_stripe(app, shop, staff):
    order_id = bank_order(app, shop)
    post(staff, f"/admin/orders/{order_id}/mark-paid", confirm="y")

    response = post(staff, f"/admin/orders/{order_id}/refund", amount="5")

    assert response.status_code == 303
    with app.app_context():
        [refund] = db.session.execute(db.select(Refund)).scalars()
        assert (refund.amount, refund.provider_refund_id) == (500, None)


def test_support_staff_cannot_refund(app, staff, test_env):
    order_id, intent_id = paid_card_order(app, test_env)
    support = app.test_client()
    login_staff(support, app, "support")
    before = order_state(app, order_id)

    response = support.post(
        f"/admin/orders/{order_id}/refund",
        data={"csrf_token": admin_csrf(support), "amount": "5"},
    )

    assert response.status_code == 403
    assert order_state(app, order_id) == before
    assert refunds_at_stripe(stripe_client(test_env), intent_id) == []


# -- emails sent again -------------------------------------------------------------------------


def test_support_sends_the_payment_receipt_again(app, shop, staff):
    order_id = bank_order(app, shop)
    post(staff, f"/admin/orders/{order_id}/mark-paid", confirm="y")
    deliver_outbox(app)
    support = app.test_client()
    support_id = login_staff(support, app, "support")
    page = text_of(support.get(f"/admin/orders/{order_id}"))
    assert '<option value="payment_received">Paiement reçu</option>' in page
    assert f"/admin/orders/{order_id}/refund" not in page  # support cannot refund: no form

    response = support.post(
        f"/admin/orders/{order_id}/resend",
        data={"csrf_token": admin_csrf(support), "kind": "payment_received"},
    )

    assert response.status_code == 303
    with app.app_context():
        first, again = db.session.execute(
            db.select(EmailMessage)
            .where(EmailMessage.kind == "payment_received")
            .order_by(EmailMessage.id)
        ).scalars()
        paid_event = db.session.execute(
            db.select(OutboxEvent.id).where(OutboxEvent.type == "order_paid")
        ).scalar_one()
        assert first.message_id == f"<order_paid.{paid_event}@comptoir.example.com>"
        assert re.fullmatch(
            rf"<order_paid\.{paid_event}@resend-[0-9a-f]{{12}}\.comptoir\.example\.com>",
            again.message_id,
        )
        assert (again.to_address, again.subject) == (first.to_address, first.subject)
        invoice_id = db.session.execute(db.select(Invoice.id)).scalar_one()
        assert first.invoice_id == again.invoice_id == invoice_id  # the invoice is attached
    [entry] = [e for e in audit_entries(app, order_id) if e.action == "order.resend_email"]
    assert entry.actor_id == support_id
    assert entry.after == {
        "email": "payment_received",
        "email_id": again.id,
        "to": "camille@example.com",
    }
    timeline = text_of(support.get(f"/admin/orders/{order_id}"))
    assert timeline.count("E-mail «\u202fPaiement reçu\u202f» à camille@example.com") == 2


def test_an_email_never_sent_cannot_be_sent_again(app, shop, staff):
    order_id = bank_order(app, shop)
    deliver_outbox(app)  # its confirmation mail, now rather than by a worker mid-test
    with app.app_context():
        emails = db.session.scalar(db.select(db.func.count(EmailMessage.id)))

    for kind in ("payment_received", "nonsense", ""):
        response = post(staff, f"/admin/orders/{order_id}/resend", kind=kind)
        assert response.status_code == 422, kind
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(EmailMessage.id))) == emails
    assert audit_entries(app, order_id) == []


# -- documents ---------------------------------------------------------------------------------


def test_staff_download_the_stored_invoice_and_credit_note(app, shop, staff):
    from shop.invoices import services as invoices

    order_id = bank_order(app, shop)
    post(staff, f"/admin/orders/{order_id}/mark-paid", confirm="y")
    post(staff, f"/admin/orders/{order_id}/refund", amount="5")
    with app.app_context():
        invoice = invoices.issue_invoice(order_id)
        refund_id = db.session.execute(db.select(Refund.id)).scalar_one()
        note = invoices.issue_credit_note(refund_id)
        ids = {invoice.full_number: invoice.id, note.full_number: note.id}
    page = text_of(staff.get(f"/admin/orders/{order_id}"))
    support = app.test_client()
    login_staff(support, app, "support")

    first = f"/admin/orders/invoices/{invoice.id}.pdf"
    waiting = support.get(first)  # not rendered yet: the request renders nothing
    assert waiting.status_code == 303
    assert waiting.headers["Location"].endswith(f"/admin/orders/{order_id}")
    notice = text_of(support.get(waiting.headers["Location"]))
    assert f"{invoice.full_number} est en cours de préparation" in notice
    with app.app_context():
        assert db.session.get(Invoice, invoice.id).pdf_path is None
        assert render_pending() == 2  # the job's work: the invoice and the credit note

    for number, invoice_id in ids.items():
        url = f"/admin/orders/invoices/{invoice_id}.pdf"
        assert f'href="{url}"' in page and number in page
        response = support.get(url)
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert response.data.startswith(b"%PDF")
        assert number in response.headers["Content-Disposition"]
        assert response.headers["Cache-Control"] == "no-store"
    assert staff.get("/admin/orders/invoices/999999.pdf").status_code == 404
