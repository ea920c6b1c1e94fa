"""Holds, orders and payments on real PostgreSQL: never oversell, pay exactly once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from shop.cart.models import Cart, CartItem, CartStatus
from shop.checkout import services as checkout
from shop.checkout.defaults import load_defaults
from shop.checkout.services import CheckoutDetails, NoLongerAvailable
from shop.clock import utcnow
from shop.extensions import db
from shop.inventory import services as inventory
from shop.inventory.models import InventoryItem, InventoryMovement, InventoryReservation
from shop.orders import services as orders
from shop.orders.models import InvalidTransition, Order, OrderStatus, Payment
from shop.outbox.models import OutboxEvent
from tests import catalogue_factory

ADDRESS = {
    "first_name": "Camille",
    "last_name": "Durand",
    "company": "",
    "line1": "12 rue des Lilas",
    "line2": "",
    "postal_code": "75011",
    "city": "Paris",
    "country": "FR",
    "region": "",
    "phone": "",
}


@pytest.fixture
def shop(app):
    with app.app_context():
        ids = catalogue_factory.build(6)
        load_defaults()
        db.session.commit()
    return ids


def _variant_of(product_id: int) -> int:
    from shop.catalogue.models import ProductVariant

    return (
        db.session.execute(
            db.select(ProductVariant.id).where(ProductVariant.product_id == product_id)
        )
        .scalars()
        .first()
    )


def _cart(variant_id: int, quantity: int = 1, token: str | None = None) -> int:
    import secrets

    cart = Cart(token=token or secrets.token_urlsafe(16), locale="fr")
    cart.items = [CartItem(variant_id=variant_id, quantity=quantity, unit_price=0)]
    db.session.add(cart)
    db.session.commit()
    return cart.id


def _details(email: str = "camille@example.com", method: str = "bank_transfer"):
    return CheckoutDetails(
        email=email,
        shipping_address=ADDRESS,
        billing_address=ADDRESS,
        shipping_method="colissimo",
        payment_method=method,
        locale="fr",
    )


def _stock(variant_id: int) -> tuple[int, int]:
    item = db.session.execute(
        db.select(InventoryItem).where(InventoryItem.variant_id == variant_id)
    ).scalar_one()
    db.session.refresh(item)
    return item.on_hand, item.reserved


def _count(model, *where) -> int:
    return db.session.execute(db.select(db.func.count()).select_from(model).where(*where)).scalar()


def test_fifty_concurrent_checkouts_for_the_last_ten_units(app, shop):
    """The proof: 50 buyers, 10 units → exactly 10 paid orders, no negative stock, no deadlock."""
    with app.app_context():
        variant_id = _variant_of(shop["products"][3])
        on_hand, _ = _stock(variant_id)
        inventory.receive(variant_id, 10 - on_hand, reason="last ten") if on_hand < 10 else None
        assert _stock(variant_id) == (10, 0)
        carts = [_cart(variant_id) for _ in range(50)]
    start = threading.Barrier(50)

    def buy(cart_id: int) -> str:
        with app.app_context():
            start.wait()
            try:
                checkout.start_checkout(cart_id)
                order = checkout.place_order(cart_id, _details(f"buyer{cart_id}@example.com"))
                assert orders.mark_paid(order.id, provider="bank_transfer") is True
                return "paid"
            except NoLongerAvailable as error:
                assert "plus disponible" in str(error.message)
                return "refused"
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(buy, carts))
    assert outcomes.count("paid") == 10
    assert outcomes.count("refused") == 40
    with app.app_context():
        assert _stock(variant_id) == (0, 0)
        assert _count(Order, Order.status == OrderStatus.PAID) == 10
        sales = db.session.execute(
            db.select(db.func.sum(InventoryMovement.quantity)).where(
                InventoryMovement.variant_id == variant_id, InventoryMovement.kind == "sale"
            )
        ).scalar()
        assert sales == -10
        assert _count(InventoryReservation) == 0
        numbers = db.session.execute(db.select(Order.number)).scalars().all()
        assert len(set(numbers)) == 10


def test_order_snapshots_lines_and_announces_itself(app, shop):
    with app.app_context():
        variant_id = _variant_of(shop["products"][1])  # 45 € discounted table
        cart_id = _cart(variant_id, 2)
        checkout.start_checkout(cart_id)
        order = checkout.place_order(cart_id, _details())
        assert order.number.startswith(f"CMD-{utcnow().year}-")
        assert order.status == OrderStatus.PENDING_PAYMENT
        [line] = order.lines
        assert (line.title_fr, line.title_en) == ("Table en chêne n°\u00a01", "Oak table no. 1")
        assert (line.quantity, line.unit_price, line.sku) == (2, 4500, "SKU-1")
        assert order.subtotal == 9000
        assert order.total == order.subtotal + order.shipping_total  # TTC: tax is inside
        assert sum(t.amount for t in order.tax_lines) == order.tax_total > 0
        assert db.session.get(Cart, cart_id).status == CartStatus.CONVERTED
        assert [e.type for e in db.session.execute(db.select(OutboxEvent)).scalars()] == [
            "order_placed"
        ]
        # A double click finds the same order.
        assert checkout.place_order(cart_id, _details()).id == order.id
        assert _count(Order) == 1


def test_paid_exactly_once_even_when_two_paths_race(app, shop):
    with app.app_context():
        variant_id = _variant_of(shop["products"][2])
        cart_id = _cart(variant_id, 1)
        checkout.start_checkout(cart_id)
        order_id = checkout.place_order(cart_id, _details()).id
        on_hand, reserved = _stock(variant_id)
    go = threading.Barrier(4)

    def pay() -> bool:
        with app.app_context():
            go.wait()
            try:
                return orders.mark_paid(order_id, provider="bank_transfer")
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: pay(), range(4)))
    assert sorted(results) == [False, False, False, True]
    with app.app_context():
        assert _stock(variant_id) == (on_hand - 1, reserved - 1)
        assert _count(OutboxEvent, OutboxEvent.type == "order_paid") == 1
        assert _count(Payment, Payment.status == "succeeded") == 1
        assert _count(InventoryMovement, InventoryMovement.kind == "sale") == 1


def test_expired_holds_give_stock_back(app, shop):
    with app.app_context():
        variant_id = _variant_of(shop["products"][4])
        before = _stock(variant_id)
        cart_id = _cart(variant_id, 3)
        checkout.start_checkout(cart_id)
        assert _stock(variant_id) == (before[0], before[1] + 3)
        assert inventory.release_expired(utcnow() + timedelta(minutes=14)) == 0
        assert inventory.release_expired(utcnow() + timedelta(minutes=16)) == 1
        assert _stock(variant_id) == before
        assert _count(InventoryReservation) == 0


def test_cancelling_an_unpaid_order_releases_its_holds(app, shop):
    with app.app_context():
        variant_id = _variant_of(shop["products"][2])
        before = _stock(variant_id)
        cart_id = _cart(variant_id, 2)
        checkout.start_checkout(cart_id)
        order = checkout.place_order(cart_id, _details())
        assert _stock(variant_id) == (before[0], before[1] + 2)
        orders.cancel(order.id, reason="changed my mind")
        assert _stock(variant_id) == before
        assert db.session.get(Order, order.id).status == OrderStatus.CANCELLED
        with pytest.raises(orders.NotCancellable):
            orders.cancel(order.id)
        assert orders.mark_paid(order.id, provider="bank_transfer") is False


def test_refunds_never_exceed_what_was_paid_and_can_restock(app, shop):
    with app.app_context():
        variant_id = _variant_of(shop["products"][2])
        cart_id = _cart(variant_id, 2)
        checkout.start_checkout(cart_id)
        order = checkout.place_order(cart_id, _details())
        orders.mark_paid(order.id, provider="bank_transfer")
        after_sale = _stock(variant_id)
        line_id = order.lines[0].id
        with pytest.raises(orders.RefundTooLarge):
            orders.refund(order.id, order.total + 1)
        orders.refund(order.id, 500, restock={line_id: 1}, reason="damaged")
        order = db.session.get(Order, order.id)
        assert order.status == OrderStatus.PARTIALLY_REFUNDED
        assert _stock(variant_id) == (after_sale[0] + 1, after_sale[1])
        with pytest.raises(orders.RefundTooLarge):
            orders.refund(order.id, order.total - 500 + 1)
        orders.refund(order.id, order.total - 500)
        assert db.session.get(Order, order.id).status == OrderStatus.REFUNDED
        assert _count(OutboxEvent, OutboxEvent.type == "order_refunded") == 2


def test_status_machine_refuses_invalid_moves():
    order = Order(status=OrderStatus.PENDING_PAYMENT)
    with pytest.raises(InvalidTransition):
        order.move_to(OrderStatus.FULFILLED)
    order.move_to(OrderStatus.PAID)
    with pytest.raises(InvalidTransition):
        order.move_to(OrderStatus.PENDING_PAYMENT)
    assert order.can_move_to(OrderStatus.REFUNDED)


def test_expiry_job_runs_once_per_interval_across_workers(app, shop, rq_worker, redis_service):
    """The periodic tick enqueues the expiry job once a minute however many workers tick,
    and the real worker runs it: expired holds come back."""
    import time

    import redis

    from shop.jobs import PERIODIC, enqueue_due_periodic_jobs

    with app.app_context():
        variant_id = _variant_of(shop["products"][4])
        before = _stock(variant_id)
        cart_id = _cart(variant_id, 2)
        checkout.start_checkout(cart_id)
        db.session.execute(
            db.update(InventoryReservation).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    connection = redis.Redis.from_url(redis_service.url)
    connection.delete("comptoir:periodic:expire_reservations")
    first = enqueue_due_periodic_jobs(app)  # (the worker's own tick may win this race)
    second = enqueue_due_periodic_jobs(app)  # a second scheduler in the same minute
    assert "expire_reservations" not in second  # at most once per interval
    assert set(first) <= {name for name, _, _ in PERIODIC}
    assert 0 < connection.ttl("comptoir:periodic:expire_reservations") <= 60
    deadline = time.monotonic() + 20
    with app.app_context():
        while _count(InventoryReservation) and time.monotonic() < deadline:
            time.sleep(0.2)
            db.session.remove()
        assert _count(InventoryReservation) == 0
        assert _stock(variant_id) == before
