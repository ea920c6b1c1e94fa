"""Back-office stock: levels, the low-stock list, the ledger, current holds; corrections with
a reason (each one a movement, never below what checkouts hold) and thresholds, audited."""

# ruff: noqa: F811 (the shared ``shop`` fixture is imported, then requested by name)
from __future__ import annotations

import re

import pytest

from shop.audit.models import AuditLog
from shop.catalogue.models import ProductVariant
from shop.extensions import db
from shop.inventory.models import InventoryItem, InventoryMovement
from tests.admin_orders_support import bank_order, shop  # noqa: F401 (fixture)
from tests.admin_support import admin_csrf, login_staff
from tests.test_orders import _variant_of


@pytest.fixture
def staff(app):
    client = app.test_client()
    client.user_id = login_staff(client, app, "manager")
    client.token = admin_csrf(client)
    return client


def post(client, url: str, **data):
    return client.post(url, data={"csrf_token": client.token, **data})


def text_of(response) -> str:
    return response.get_data(as_text=True)


def variant(app, shop, index: int) -> tuple[int, str]:
    with app.app_context():
        variant_id = _variant_of(shop["products"][index])
        return variant_id, db.session.get(ProductVariant, variant_id).sku


def level(app, variant_id: int) -> tuple[int, int, int | None]:
    """(on hand, reserved, own threshold)."""
    with app.app_context():
        item = db.session.execute(
            db.select(InventoryItem).where(InventoryItem.variant_id == variant_id)
        ).scalar_one()
        return item.on_hand, item.reserved, item.low_stock_threshold


def movements(app, variant_id: int) -> list[tuple[str, int, str, int | None]]:
    with app.app_context():
        return [
            (m.kind, m.quantity, m.reason, m.actor_id)
            for m in db.session.execute(
                db.select(InventoryMovement)
                .where(InventoryMovement.variant_id == variant_id)
                .order_by(InventoryMovement.id)
            ).scalars()
        ]


def audit(app) -> list[AuditLog]:
    with app.app_context():
        return list(db.session.execute(db.select(AuditLog).order_by(AuditLog.id)).scalars())


NO_REASON = "Veuillez indiquer la raison de ce changement de stock."


def skus_listed(page: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/admin/stock/\d+">([^<]+)</a>', page)


# -- levels ------------------------------------------------------------------------------------


def test_levels_show_on_hand_reserved_and_available(app, shop, staff):
    bank_order(app, shop, quantity=2, product=2)  # holds both units of product 2
    variant_id, sku = variant(app, shop, 2)
    on_hand, reserved, _ = level(app, variant_id)
    assert reserved == 2

    page = text_of(staff.get(f"/admin/stock?q={sku}"))

    assert skus_listed(page) == [sku]
    row = page[page.index(f">{sku}</a>") :]
    cells = re.findall(r'<td class="num">(?:<span[^>]*>)?(\d+)', row)[:4]
    assert cells == [str(on_hand), "2", str(on_hand - 2), "3"]  # threshold: the default 3
    rows = page.split("<tbody>")[1]
    assert "Chaise en chêne n°\u00a02" in rows and "Table" not in rows  # narrowed by the search


def test_the_low_stock_list_uses_each_threshold_or_the_default(
    app,
    shop,
    staff,
    monkeypatch,
):
    # catalogue_factory: product 2 has 2 units (low under the default 3), product 3 has 10.
    _, scarce_sku = variant(app, shop, 2)
    stocked_id, stocked_sku = variant(app, shop, 3)
    on_hand = level(app, stocked_id)[0]
    listed = skus_listed(text_of(staff.get("/admin/stock/low")))
    assert scarce_sku in listed and stocked_sku not in listed

    post(staff, f"/admin/stock/{stocked_id}/threshold", threshold=str(on_hand))
    listed = skus_listed(text_of(staff.get("/admin/stock/low")))
    assert scarce_sku in listed and stocked_sku in listed
    assert skus_listed(text_of(staff.get("/admin/stock?low=1"))) == listed

    monkeypatch.setitem(app.config, "LOW_STOCK_THRESHOLD", 0)  # the shop default, lowered
    listed = skus_listed(text_of(staff.get("/admin/stock/low")))
    assert stocked_sku in listed and scarce_sku not in listed


def test_the_stock_list_runs_the_same_queries_for_any_page_size(app, shop, staff, queries):
    staff.get("/admin/stock?q=SKU-1")
    with queries() as one:
        page = text_of(staff.get("/admin/stock?q=SKU-1"))
    assert len(skus_listed(page)) == 1
    with queries() as all_of_them:
        page = text_of(staff.get("/admin/stock"))
    assert len(skus_listed(page)) >= 4
    assert len(all_of_them) == len(one)


# -- corrections ---------------------------------------------------------------------------------


def test_a_correction_is_a_movement_with_its_reason_and_is_audited(app, shop, staff):
    variant_id, sku = variant(app, shop, 3)
    on_hand, reserved, _ = level(app, variant_id)
    before = movements(app, variant_id)

    response = post(
        staff,
        f"/admin/stock/{variant_id}/adjust",
        kind="adjustment",
        quantity="-2",
        reason="Inventaire : 2 cassées",
    )

    assert response.status_code == 303
    assert level(app, variant_id)[:2] == (on_hand - 2, reserved)
    assert movements(app, variant_id) == [
        *before,
        ("adjustment", -2, "Inventaire : 2 cassées", staff.user_id),
    ]
    [entry] = audit(app)
    assert (entry.action, entry.entity_type, entry.entity_id) == (
        "stock.adjust",
        "variant",
        str(variant_id),
    )
    assert entry.before == {"on_hand": on_hand}
    assert entry.after == {
        "on_hand": on_hand - 2,
        "kind": "adjustment",
        "quantity": -2,
        "reason": "Inventaire : 2 cassées",
    }
    page = text_of(staff.get(f"/admin/stock/{variant_id}"))
    assert "Inventaire : 2 cassées" in page and ">-2<" in page
    ledger = text_of(staff.get("/admin/stock/movements?kind=adjustment"))
    assert f">{sku}</a>" in ledger and "Inventaire : 2 cassées" in ledger
    assert "Inventaire : 2 cassées" not in text_of(staff.get("/admin/stock/movements?kind=sale"))


def test_goods_received_go_through_the_receipt_service(app, shop, staff):
    with app.app_context():
        variant_id = _variant_of(shop["draft"])  # never stocked: no stock item yet
        assert (
            db.session.execute(
                db.select(InventoryItem).where(InventoryItem.variant_id == variant_id)
            ).scalar_one_or_none()
            is None
        )

    response = post(
        staff, f"/admin/stock/{variant_id}/adjust", kind="receipt", quantity="12", reason="BL 42"
    )

    assert response.status_code == 303
    assert level(app, variant_id)[:2] == (12, 0)
    assert movements(app, variant_id) == [("receipt", 12, "BL 42", staff.user_id)]
    assert audit(app)[0].after["kind"] == "receipt"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"quantity": "5", "reason": ""}, "Veuillez indiquer la raison de ce changement de stock."),
        (
            {"quantity": "5", "reason": "   "},
            "Veuillez indiquer la raison de ce changement de stock.",
        ),
        ({"quantity": "", "reason": "x"}, "Veuillez saisir une quantité, comme 5 ou -2."),
        ({"quantity": "0", "reason": "x"}, "Saisissez une quantité différente de zéro."),
        ({"quantity": "cinq", "reason": "x"}, "Veuillez saisir un nombre entier, comme 5 ou -2."),
        ({"quantity": "1.5", "reason": "x"}, "Veuillez saisir un nombre entier, comme 5 ou -2."),
        (
            {"quantity": "-3", "reason": "x", "kind": "receipt"},
            "Une réception ajoute du stock : saisissez un nombre positif.",
        ),
    ],
)
def test_bad_corrections_are_422_and_change_nothing(app, shop, staff, data, message):
    variant_id, _ = variant(app, shop, 3)
    before = level(app, variant_id), movements(app, variant_id)

    response = post(staff, f"/admin/stock/{variant_id}/adjust", **{"kind": "adjustment", **data})

    assert response.status_code == 422
    page = text_of(response)
    assert message.replace(" :", "\u00a0:") in page
    assert f'value="{data["quantity"]}"' in page
    assert (level(app, variant_id), movements(app, variant_id)) == before
    assert audit(app) == []


def test_stock_never_goes_below_what_checkouts_hold(app, shop, staff, hx):
    bank_order(app, shop, quantity=2, product=3)
    variant_id, _ = variant(app, shop, 3)
    on_hand, reserved, _ = level(app, variant_id)
    assert reserved == 2 and on_hand > reserved
    before = movements(app, variant_id)

    response = staff.post(
        f"/admin/stock/{variant_id}/adjust",
        data={
            "csrf_token": staff.token,
            "kind": "adjustment",
            "quantity": str(-(on_hand - reserved + 1)),
            "reason": "perte",
        },
        headers=hx(),
    )

    assert response.status_code == 409
    fragment = text_of(response)
    assert fragment.lstrip().startswith('<section id="stock-panel"')
    assert f"retirez au plus {on_hand - reserved}." in fragment
    assert level(app, variant_id)[:2] == (on_hand, reserved)
    assert movements(app, variant_id) == before
    assert audit(app) == []
    # Exactly what is free can go.
    response = post(
        staff,
        f"/admin/stock/{variant_id}/adjust",
        kind="adjustment",
        quantity=str(-(on_hand - reserved)),
        reason="perte",
    )
    assert response.status_code == 303
    assert level(app, variant_id)[:2] == (reserved, reserved)


def test_the_adjust_service_refuses_without_a_reason(app, shop):
    from shop.inventory import adjustments

    with app.app_context():
        variant_id = _variant_of(shop["products"][3])
        with pytest.raises(adjustments.ReasonRequired):
            adjustments.adjust(variant_id, 1, reason=" ", actor_id=None)
        with pytest.raises(adjustments.UnknownVariant):
            adjustments.adjust(999_999, 1, reason="x", actor_id=None)
        db.session.rollback()
    assert movements(app, variant_id)[-1][0] == "receipt"


# -- thresholds ----------------------------------------------------------------------------------


def test_a_threshold_is_set_then_back_to_the_default_and_audited(app, shop, staff):
    variant_id, _ = variant(app, shop, 3)

    assert post(staff, f"/admin/stock/{variant_id}/threshold", threshold="7").status_code == 303
    assert level(app, variant_id)[2] == 7
    response = post(staff, f"/admin/stock/{variant_id}/threshold", use_default="y")
    assert response.status_code == 303
    assert level(app, variant_id)[2] is None

    first, second = audit(app)
    assert (first.action, first.before, first.after) == (
        "stock.threshold",
        {"threshold": None},
        {"threshold": 7},
    )
    assert (second.before, second.after) == ({"threshold": 7}, {"threshold": None})


@pytest.mark.parametrize(
    ("threshold", "message"),
    [
        ("", "Veuillez saisir un seuil, ou choisir la valeur par défaut de la boutique."),
        ("-1", "Veuillez saisir un nombre entier, 0 ou plus."),
        ("beaucoup", "Veuillez saisir un nombre entier, 0 ou plus."),
    ],
)
def test_a_bad_threshold_is_a_422_that_changes_nothing(app, shop, staff, threshold, message):
    variant_id, _ = variant(app, shop, 3)

    response = post(staff, f"/admin/stock/{variant_id}/threshold", threshold=threshold)

    assert response.status_code == 422
    assert message in text_of(response)
    assert level(app, variant_id)[2] is None
    assert audit(app) == []


# -- holds and access ----------------------------------------------------------------------------


def test_current_reservations_name_their_order(app, shop, staff):
    from shop.orders.models import Order

    order_id = bank_order(app, shop, quantity=2, product=2)
    variant_id, sku = variant(app, shop, 2)
    with app.app_context():
        number = db.session.get(Order, order_id).number

    page = text_of(staff.get("/admin/stock/reservations"))
    assert f">{number}</a>" in page and f">{sku}</a>" in page
    assert "1 réservation" in page
    page = text_of(staff.get(f"/admin/stock/{variant_id}"))
    assert f">{number}</a>" in page


def test_support_staff_cannot_see_or_change_stock(app, shop):
    client = app.test_client()
    login_staff(client, app, "support")
    variant_id, _ = variant(app, shop, 3)
    before = level(app, variant_id), movements(app, variant_id)

    assert client.get("/admin/stock").status_code == 403
    response = client.post(
        f"/admin/stock/{variant_id}/adjust",
        data={"csrf_token": admin_csrf(client), "quantity": "5", "reason": "x"},
    )
    assert response.status_code == 403
    assert (level(app, variant_id), movements(app, variant_id)) == before


def test_the_service_keeps_available_stock_from_going_negative_under_a_race(app, shop):
    """Two corrections that each fit alone but not together: one wins, one is refused."""
    import threading

    from shop.inventory import adjustments

    with app.app_context():
        variant_id = _variant_of(shop["products"][3])
        item = db.session.execute(
            db.select(InventoryItem).where(InventoryItem.variant_id == variant_id)
        ).scalar_one()
        free = item.on_hand - item.reserved
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def take() -> None:
        with app.app_context():
            start.wait()
            try:
                adjustments.adjust(variant_id, -free, reason="race", actor_id=None)
                outcomes.append("done")
            except adjustments.BelowReserved:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=take) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["done", "refused"]
    on_hand, reserved, _ = level(app, variant_id)
    assert on_hand - reserved == 0
    assert [m for m in movements(app, variant_id) if m[2] == "race"] == [
        ("adjustment", -free, "race", None)
    ]
