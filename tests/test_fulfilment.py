"""Shipping and completing orders on real PostgreSQL: the shipment, the status, the
``order_shipped`` event in one transaction; refusals that change nothing; the "shipped"
mail with its tracking link through the real worker and SMTP, in the order's language."""

from __future__ import annotations

import threading

import pytest
from flask_babel import force_locale

from shop.checkout import services as checkout
from shop.extensions import db
from shop.orders import fulfilment
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus, Shipment
from shop.outbox.models import OutboxEvent
from tests.test_orders import _cart, _details, _variant_of


@pytest.fixture
def shop(app):
    from shop.checkout.defaults import load_defaults
    from shop.inventory.services import receive
    from tests import catalogue_factory

    with app.app_context():
        ids = catalogue_factory.build(4)
        load_defaults()
        db.session.commit()
        receive(_variant_of(ids["products"][2]), 50, reason="fulfilment tests")
    return ids


def _order(app, shop, email: str, *, locale: str = "fr", paid: bool = True) -> int:
    with app.app_context():
        cart_id = _cart(_variant_of(shop["products"][2]))
        checkout.start_checkout(cart_id)
        details = _details(email)
        details.locale = locale
        order_id = checkout.place_order(cart_id, details).id
        if paid:
            assert orders.mark_paid(order_id, provider="bank_transfer") is True
        return order_id


def _state(app, order_id: int) -> tuple[str, list[tuple], list[dict]]:
    """The order's status, its shipments, and its order_shipped events."""
    with app.app_context():
        db.session.remove()
        status = db.session.get(Order, order_id).status
        shipments = [
            (s.carrier, s.carrier_name, s.tracking_number, s.tracking_url, s.actor_id)
            for s in db.session.execute(
                db.select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.id)
            ).scalars()
        ]
        events = [
            dict(e.payload)
            for e in db.session.execute(
                db.select(OutboxEvent).where(OutboxEvent.type == "order_shipped")
            ).scalars()
            if e.payload["order_id"] == order_id
        ]
        return status, shipments, events


# -- fulfil ------------------------------------------------------------------------------------


def test_fulfil_records_the_parcel_moves_the_order_and_announces_it(app, shop, make_user):
    staff_id = make_user("magasin@example.com")
    order_id = _order(app, shop, "colis@example.com")
    with app.app_context():
        shipment = fulfilment.fulfil(
            order_id, carrier="colissimo", tracking_number=" 6a 123 456 789 01 ", actor_id=staff_id
        )
        shipment_id, number = shipment.id, db.session.get(Order, order_id).number
    status, shipments, events = _state(app, order_id)
    assert status == OrderStatus.FULFILLED
    assert shipments == [
        (
            "colissimo",
            "Colissimo",
            "6A12345678901",
            "https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
            staff_id,
        )
    ]
    assert events == [{"order_id": order_id, "number": number, "shipment_id": shipment_id}]


@pytest.mark.parametrize(
    ("carrier", "locale", "name", "url"),
    [
        (
            "chronopost",
            "en",
            "Chronopost",
            "https://www.chronopost.fr/tracking-no-cms/suivi-page?listeNumerosLT=XY123456789FR&langue=en",
        ),
        (
            "lettre_suivie",
            "fr",
            "La Poste – Lettre suivie",
            "https://www.laposte.fr/outils/suivre-vos-envois?code=XY123456789FR",
        ),
        (
            "lettre_suivie",
            "en",
            "La Poste tracked letter",
            "https://www.laposte.fr/outils/track-a-parcel?code=XY123456789FR",
        ),
        (
            "dhl",
            "fr",
            "DHL",
            "https://www.dhl.com/fr-fr/home/tracking.html?tracking-id=XY123456789FR&submit=1",
        ),
        ("ups", "en", "UPS", "https://www.ups.com/track?loc=en_US&tracknum=XY123456789FR"),
        (
            "canada_post",
            "fr",
            "Postes Canada",
            "https://www.canadapost-postescanada.ca/track-reperage/fr#/search?searchFor=XY123456789FR",
        ),
        (
            "canada_post",
            "en",
            "Canada Post",
            "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor=XY123456789FR",
        ),
        (
            "purolator",
            "fr",
            "Purolator",
            "https://www.purolator.com/en/shipping/tracker?pin=XY123456789FR",
        ),
    ],
)
def test_each_carrier_gets_its_name_and_tracking_page_in_the_order_language(
    app, shop, carrier, locale, name, url
):
    order_id = _order(app, shop, f"{carrier}.{locale}@example.com", locale=locale)
    with app.app_context():
        fulfilment.fulfil(order_id, carrier=carrier, tracking_number="xy123456789fr")
    [(code, carrier_name, number, tracking_url, _)] = _state(app, order_id)[1]
    assert (code, carrier_name, number, tracking_url) == (carrier, name, "XY123456789FR", url)


def test_another_carrier_needs_its_tracking_link(app, shop):
    order_id = _order(app, shop, "autre@example.com")
    with app.app_context():
        for bad in (None, "", "suivi.example.net/abc", "javascript:alert(1)", "ftp://x.example"):
            with pytest.raises(fulfilment.InvalidTrackingUrl):
                fulfilment.fulfil(
                    order_id, carrier="other", tracking_number="AB1234", tracking_url=bad
                )
        assert _state(app, order_id) == (OrderStatus.PAID, [], [])
        fulfilment.fulfil(
            order_id,
            carrier="other",
            tracking_number="AB1234",
            tracking_url="https://www.suivi.example.net/colis?n=AB1234",
        )
    [(code, name, _, url, _)] = _state(app, order_id)[1]
    assert (code, name, url) == (
        "other",
        "suivi.example.net",
        "https://www.suivi.example.net/colis?n=AB1234",
    )


@pytest.mark.parametrize(
    ("carrier", "tracking", "error"),
    [
        ("laposte-express", "6A12345678901", fulfilment.UnknownCarrier),
        ("colissimo", "", fulfilment.InvalidTrackingNumber),
        ("colissimo", "6A1", fulfilment.InvalidTrackingNumber),
        ("colissimo", "6A12<script>", fulfilment.InvalidTrackingNumber),
        ("colissimo", "X" * 41, fulfilment.InvalidTrackingNumber),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(app, shop, carrier, tracking, error):
    order_id = _order(app, shop, "refus@example.com")
    with app.app_context(), pytest.raises(error):
        fulfilment.fulfil(order_id, carrier=carrier, tracking_number=tracking)
    assert _state(app, order_id) == (OrderStatus.PAID, [], [])


def test_unpaid_cancelled_or_already_shipped_orders_cannot_be_shipped(app, shop):
    unpaid = _order(app, shop, "impaye@example.com", paid=False)
    cancelled = _order(app, shop, "annule@example.com", paid=False)
    shipped = _order(app, shop, "expedie@example.com")
    with app.app_context():
        orders.cancel(cancelled)
        fulfilment.fulfil(shipped, carrier="ups", tracking_number="1Z999AA10123456784")
        for order_id in (unpaid, cancelled, shipped):
            with pytest.raises(fulfilment.NotShippable):
                fulfilment.fulfil(order_id, carrier="dhl", tracking_number="1234567890")
    assert _state(app, unpaid) == (OrderStatus.PENDING_PAYMENT, [], [])
    assert _state(app, cancelled) == (OrderStatus.CANCELLED, [], [])
    status, shipments, events = _state(app, shipped)
    assert (status, [s[0] for s in shipments], len(events)) == (OrderStatus.FULFILLED, ["ups"], 1)


def test_a_partly_refunded_order_can_still_ship(app, shop):
    order_id = _order(app, shop, "partiel@example.com")
    with app.app_context():
        orders.refund(order_id, 100, reason="geste commercial")
        fulfilment.fulfil(order_id, carrier="colissimo", tracking_number="6A12345678901")
    assert _state(app, order_id)[0] == OrderStatus.FULFILLED


def test_refusals_carry_translated_messages(app):
    with app.test_request_context():
        with force_locale("fr"):
            assert str(fulfilment.NotShippable.message) == (
                "Seule une commande payée et pas encore expédiée peut être marquée comme expédiée."
            )
            assert str(fulfilment.UnknownCarrier.message) == (
                "Veuillez choisir un transporteur dans la liste."
            )
        with force_locale("en"):
            assert str(fulfilment.NotCompletable.message) == (
                "Only a shipped order can be marked as completed."
            )


def test_two_concurrent_fulfilments_record_one_parcel(app, shop):
    order_id = _order(app, shop, "double@example.com")
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def ship(number: str) -> None:
        with app.app_context():
            start.wait()
            try:
                fulfilment.fulfil(order_id, carrier="dhl", tracking_number=number)
                outcomes.append("shipped")
            except fulfilment.NotShippable:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=ship, args=(n,)) for n in ("1111111111", "2222222222")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes) == ["refused", "shipped"]
    status, shipments, events = _state(app, order_id)
    assert (status, len(shipments), len(events)) == (OrderStatus.FULFILLED, 1, 1)


# -- complete ----------------------------------------------------------------------------------


def test_complete_closes_a_shipped_order_only(app, shop):
    paid = _order(app, shop, "pas-expedie@example.com")
    shipped = _order(app, shop, "livre@example.com")
    with app.app_context():
        with pytest.raises(fulfilment.NotCompletable):
            fulfilment.complete(paid)
        fulfilment.fulfil(shipped, carrier="colissimo", tracking_number="6A12345678901")
        assert fulfilment.complete(shipped).status == OrderStatus.COMPLETED
        with pytest.raises(fulfilment.NotCompletable):
            fulfilment.complete(shipped)
        with pytest.raises(orders.OrderError):
            fulfilment.complete(10**9)
    assert _state(app, paid)[0] == OrderStatus.PAID
    assert _state(app, shipped)[0] == OrderStatus.COMPLETED


# -- the mail ------------------------------------------------------------------------------


def _shipped_mail(mailbox, address: str):
    # Confirmation, payment receipt, then the shipping notice.
    [message] = [
        m for m in mailbox.wait_for(address, count=3) if "order_shipped" in m["Message-ID"]
    ]
    return message


def test_french_shipped_mail_has_the_tracking_link(app, shop, mailbox, rq_worker):
    order_id = _order(app, shop, "suivi.fr@example.com")
    with app.app_context():
        shipment_id = fulfilment.fulfil(
            order_id, carrier="colissimo", tracking_number="6A12345678901"
        ).id
        number = db.session.get(Order, order_id).number
        [event_id] = [
            e.id
            for e in db.session.execute(
                db.select(OutboxEvent).where(OutboxEvent.type == "order_shipped")
            ).scalars()
            if e.payload["shipment_id"] == shipment_id
        ]
    message = _shipped_mail(mailbox, "suivi.fr@example.com")
    assert message["Message-ID"] == f"<order_shipped.{event_id}@comptoir.example.com>"
    assert message["Subject"] == f"Votre commande {number} est en route"
    assert message["Content-Language"] == "fr"
    url = "https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901"
    text = message.get_body(("plain",)).get_content()
    assert f"Bonne nouvelle\u00a0: votre commande {number} a été expédiée." in text
    assert "Transporteur\u00a0: Colissimo" in text
    assert "Numéro de suivi\u00a0: 6A12345678901" in text
    assert url in text
    assert "12 rue des Lilas" in text  # where it goes
    html = message.get_body(("html",)).get_content()
    assert f'href="{url}"' in html
    assert 'style="' in html and "<style" not in html and '<html lang="fr">' in html


def test_english_shipped_mail(app, shop, mailbox, rq_worker):
    order_id = _order(app, shop, "tracking.en@example.com", locale="en")
    with app.app_context():
        fulfilment.fulfil(order_id, carrier="canada_post", tracking_number="1234 5678 9012 3456")
        number = db.session.get(Order, order_id).number
    message = _shipped_mail(mailbox, "tracking.en@example.com")
    assert message["Subject"] == f"Your order {number} is on its way"
    text = message.get_body(("plain",)).get_content()
    assert "Carrier: Canada Post" in text
    assert "Tracking number: 1234567890123456" in text
    assert (
        "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor="
        "1234567890123456"
    ) in text
