"""The orders CSV export: UTF-8 with a BOM, ``,`` or ``;`` (French Excel, decimal commas),
quotes and line breaks escaped, French accents intact, the list's filters applied, streamed
from a server-side cursor."""

# ruff: noqa: F811 (the shared ``shop`` fixture is imported, then requested by name)
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import event

from shop.extensions import db
from shop.orders.models import Order
from tests.admin_orders_support import bank_order, shop  # noqa: F401 (fixture)
from tests.admin_support import login_staff
from tests.test_payments import place_pending_order


@pytest.fixture
def support(app):
    client = app.test_client()
    login_staff(client, app, "support")
    return client


def _edit(app, order_id: int, **billing) -> tuple[str, int]:
    with app.app_context():
        order = db.session.get(Order, order_id)
        order.billing_address = {**order.billing_address, **billing}
        db.session.commit()
        return order.number, order.total


def _rows(response, separator: str) -> list[list[str]]:
    body = response.data
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM, so Excel reads UTF-8
    text = body.decode("utf-8")[1:]
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))


def _euros(minor: int, separator: str) -> str:
    return f"{minor // 100}{separator}{minor % 100:02d}"


def test_the_export_is_utf8_with_a_bom_commas_and_decimal_points(app, shop, support):
    order_id = bank_order(app, shop, "zoe@example.com")
    number, total = _edit(
        app,
        order_id,
        first_name="Zoé",
        last_name='Lefèvre "la Grande"',
        company="Atelier Œuvre\nSecond étage",
        city="Besançon",
    )

    response = support.get("/admin/orders/export.csv")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="orders-')
    assert response.is_streamed
    header, *rows = _rows(response, ",")
    assert header[:6] == ["Commande", "Date", "Statut", "E-mail", "Prénom", "Nom"]
    [row] = rows
    record = dict(zip(header, row, strict=True))
    assert record["Commande"] == number
    assert record["Statut"] == "En attente de paiement"
    assert record["Prénom"] == "Zoé"
    assert record["Nom"] == 'Lefèvre "la Grande"'
    assert record["Société"] == "Atelier Œuvre\nSecond étage"
    assert record["Ville"] == "Besançon"
    assert record["Paiement"] == "Virement bancaire"
    assert record["Total"] == _euros(total, ".")
    assert record["Montant remboursé"] == "0.00"
    raw = response.data.decode("utf-8")
    assert '"Lefèvre ""la Grande"""' in raw  # quotes doubled inside a quoted field
    assert '"Atelier Œuvre\nSecond étage"' in raw
    assert raw.count("\r\n") == 2  # header and one row; the inner line break stays inside


def test_the_semicolon_export_writes_decimal_commas_for_french_excel(app, shop, support):
    order_id = bank_order(app, shop)
    number, total = _edit(app, order_id, company="Dupont; Fils")

    response = support.get("/admin/orders/export.csv?sep=semicolon")

    header, row = _rows(response, ";")
    record = dict(zip(header, row, strict=True))
    assert record["Commande"] == number
    assert record["Total"] == _euros(total, ",")
    assert record["Société"] == "Dupont; Fils"
    assert '"Dupont; Fils"' in response.data.decode("utf-8")


def test_the_export_keeps_the_list_filters(app, shop, support):
    bank_order(app, shop, "zoe@example.com")
    sam = bank_order(app, shop, "sam@example.com")
    with app.app_context():
        card = place_pending_order(payment_method="card")
        wanted = db.session.get(Order, sam).number
        card_number = db.session.get(Order, card).number

    response = support.get("/admin/orders/export.csv?q=sam%40example&payment=bank_transfer")

    _header, *rows = _rows(response, ",")
    assert [row[0] for row in rows] == [wanted]
    response = support.get("/admin/orders/export.csv?payment=card")
    assert [row[0] for row in _rows(response, ",")[1:]] == [card_number]


def test_cells_never_become_spreadsheet_formulas(app, shop, support):
    order_id = bank_order(app, shop)
    _edit(app, order_id, first_name='=HYPERLINK("http://x")', last_name="+33 6", city="@home")

    header, row = _rows(support.get("/admin/orders/export.csv"), ",")

    record = dict(zip(header, row, strict=True))
    assert record["Prénom"] == '\'=HYPERLINK("http://x")'
    assert record["Nom"] == "'+33 6"
    assert record["Ville"] == "'@home"


def test_the_export_reads_orders_through_a_server_side_cursor(app, shop, support):
    for _ in range(3):
        bank_order(app, shop, quantity=1)
    cursors: list[tuple[str, str]] = []

    def record(conn, cursor, statement, *args) -> None:
        if "FROM orders" in statement:
            cursors.append((type(cursor).__name__, statement))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = support.get("/admin/orders/export.csv")
        rows = _rows(response, ",")
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert len(rows) == 4
    assert [name for name, _ in cursors] == ["ServerCursor"]


def test_customers_cannot_export(app, client, make_user):
    from tests.conftest import Auth

    make_user("shopper@example.com")
    Auth(client).login("shopper@example.com")

    assert client.get("/admin/orders/export.csv").status_code == 403
