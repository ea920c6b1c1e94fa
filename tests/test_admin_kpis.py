"""Statistics: exact figures for orders at known dates and amounts, the previous period,
refunds, Paris days (daylight saving time included), SVG charts with their tables."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from shop.extensions import db
from shop.orders import services as orders
from shop.orders.models import Order
from shop.reports import kpis
from shop.reports.charts import nice_ceiling
from tests import order_factory
from tests.admin_support import login_staff

PARIS = ZoneInfo("Europe/Paris")
WEEK = kpis.Period(date(2026, 3, 1), date(2026, 3, 7))  # previous: 22 to 28 February


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def sales(app: Flask) -> dict[str, int]:
    with app.app_context():
        return march_sales()


def march_sales() -> dict[str, int]:
    """Orders and carts at known dates (call it in an app context). Paris is UTC+1 in
    February and early March.

    This week (1-7 March): A 24 € paid 2 March, 4 € refunded (no return); B 27 € paid 4
    March, the 13 € item returned and refunded; C 12 € paid 7 March at 23:30 Paris time;
    E placed 5 March, never paid. D (14 €) is paid at 00:30 on 8 March in Paris: next week.
    The week before (22-28 Feb): G 12 € paid at 00:30 on 22 Feb Paris time, H 26 €. I is paid
    at 23:30 on 21 Feb in Paris: in neither week.
    Carts: 8 with items this week (plus an empty one and a merged one, not counted), 5 the
    week before.
    """
    v = order_factory.shop_with_stock()  # product i costs 10 € + i €
    ids = {
        "A": order_factory.place([(v[2], 2)], placed_at=utc(3, 2, 9)),
        "B": order_factory.place([(v[3], 1), (v[4], 1)], placed_at=utc(3, 4, 10)),
        "C": order_factory.place([(v[2], 1)], placed_at=utc(3, 7, 22, 30)),
        "D": order_factory.place([(v[4], 1)], placed_at=utc(3, 7, 23, 30)),
        "E": order_factory.place([(v[1], 1)], paid=False, placed_at=utc(3, 5, 8)),
        "G": order_factory.place([(v[2], 1)], placed_at=utc(2, 21, 23, 30)),
        "H": order_factory.place([(v[3], 2)], placed_at=utc(2, 25, 12)),
        "I": order_factory.place([(v[2], 1)], placed_at=utc(2, 21, 22, 30)),
    }
    orders.refund(ids["A"], 400, reason="geste commercial")
    b = db.session.get(Order, ids["B"])
    returned = next(line for line in b.lines if line.variant_id == v[3])
    orders.refund(ids["B"], 1300, restock={returned.id: 1}, reason="retour")
    for day in (1, 1, 2, 3, 4, 5, 6, 7, 8):  # the 8th is next week
        order_factory.cart_at(utc(3, day, 10), v[2])
    order_factory.cart_at(utc(3, 2, 10))  # never held an item
    order_factory.cart_at(utc(3, 3, 10), v[2], status="merged")  # counted in its target
    for day in (22, 23, 24, 26, 28):
        order_factory.cart_at(utc(2, day, 10), v[3])
    order_factory.cart_at(utc(2, 21, 22, 30), v[3])  # 23:30 on the 21st in Paris
    ids["variants"] = v  # type: ignore[assignment]
    return ids


def test_figures_of_a_week_against_the_week_before(app, sales, queries):
    with app.app_context(), queries() as statements:
        report = kpis.report(WEEK, PARIS)
    assert len(statements) == 3
    assert report.previous == kpis.Period(date(2026, 2, 22), date(2026, 2, 28))
    # 24 - 4 + 27 - 13 + 12 = 46 €; the week before 12 + 26 = 38 €.
    assert (report.current.revenue, report.current.orders, report.current.average) == (
        4600,
        3,
        1533,
    )
    assert (report.before.revenue, report.before.orders, report.before.average) == (3800, 2, 1900)
    assert (report.current.placed, report.current.carts) == (4, 8)  # A, B, C, E; D is next week
    assert (report.before.placed, report.before.carts) == (2, 5)
    assert report.current.conversion == 50.0
    assert report.before.conversion == 40.0
    assert round(report.change("revenue"), 4) == round(800 * 100 / 3800, 4)
    assert report.change("orders") == 50.0
    assert round(report.change("average"), 4) == round((1533 - 1900) * 100 / 1900, 4)
    assert report.change("conversion") == 25.0
    per_day = {d.day.day: (d.revenue, d.orders) for d in report.days if d.orders}
    assert per_day == {2: (2000, 1), 4: (1400, 1), 7: (1200, 1)}
    before = {
        d.previous_day.day: (d.previous_revenue, d.previous_orders)
        for d in report.days
        if d.previous_orders
    }
    assert before == {22: (1200, 1), 25: (2600, 1)}
    assert [d.day for d in report.days] == [date(2026, 3, n) for n in range(1, 8)]
    # Product 2: A's two and C's one (A's refund returned nothing); product 4 in B. Product 3's
    # only unit this week came back: not in this week's top.
    assert [
        (p.sku, p.units, p.revenue, p.previous_units, p.previous_revenue) for p in report.top
    ] == [
        ("SKU-2", 3, 3600, 1, 1200),
        ("SKU-4", 1, 1400, 0, 0),
    ]


def test_days_follow_paris_time_across_the_clock_change(app, sales):
    """29 March 2026: Paris moves from UTC+1 to UTC+2 at 01:00 UTC."""
    with app.app_context():
        v = sales["variants"]
        order_factory.place([(v[1], 1)], placed_at=utc(3, 28, 23, 30))  # 00:30 on the 29th
        order_factory.place([(v[2], 1)], placed_at=utc(3, 29, 21, 30))  # 23:30 on the 29th
        order_factory.place([(v[3], 1)], placed_at=utc(3, 29, 22, 30))  # 00:30 on the 30th
        report = kpis.report(kpis.Period(date(2026, 3, 29), date(2026, 3, 29)), PARIS)
    assert (report.current.orders, report.current.revenue) == (2, 4500 + 1200)


def test_presets_and_the_previous_period():
    today = date(2026, 11, 22)
    assert kpis.preset_period("7d", today) == kpis.Period(date(2026, 11, 16), today)
    assert kpis.preset_period("30d", today).days == 30
    assert kpis.preset_period("90d", today).previous() == kpis.Period(
        date(2026, 5, 27), date(2026, 8, 24)
    )
    month = kpis.preset_period("month", today)
    assert month == kpis.Period(date(2026, 11, 1), today)
    assert month.previous() == kpis.Period(date(2026, 10, 10), date(2026, 10, 31))
    assert kpis.today_in(PARIS, datetime(2026, 11, 22, 23, 30, tzinfo=UTC)) == date(2026, 11, 23)
    assert [nice_ceiling(v) for v in (0, 4600, 5000, 5001, 1234567)] == [
        400,
        5000,
        5000,
        6000,
        1600000,
    ]


def test_the_page_shows_figures_deltas_charts_and_tables(app, sales):
    client = app.test_client()
    login_staff(client, app, "manager")
    response = client.get("/admin/kpis?preset=custom&start=2026-03-01&end=2026-03-07")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Europe/Paris" in page
    assert (
        "Du 1 mars 2026 au 7 mars 2026 (7 jours), comparés à la période du 22 février 2026"
        " au 28 février 2026." in page
    )
    for text in (
        "46,00\u00a0€",
        "38,00\u00a0€",
        "+21,1\u00a0%",
        "+50,0\u00a0%",
        "15,33\u00a0€",
        "-19,3\u00a0%",
        "50,0\u00a0%",
        "40,0\u00a0%",
        "+25,0\u00a0%",
    ):
        assert text in page, text
    # Two SVG charts, each an image with a title and a description, and a data table.
    assert page.count('<svg role="img" aria-labelledby=') == 2
    assert page.count("<title id=") == 2 and page.count("<desc id=") == 2
    assert page.count("<caption>") == 2
    assert 'th scope="row">Chaise en chêne n°\u00a02 <span class="sku">SKU-2</span>' in page
    assert "<polyline" in page and "<rect" in page
    assert "style=" not in page and "<script>" not in page


def test_htmx_gets_the_report_alone(app, sales, hx):
    client = app.test_client()
    login_staff(client, app, "manager")
    response = client.get("/admin/kpis?preset=7d", headers=hx())
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert text.lstrip().startswith('<div id="kpis">') and "<html" not in text
    assert "aucune comparaison" in text  # nothing sold in the last 7 days nor before


def test_the_page_runs_the_same_queries_for_7_or_90_days(app, sales, queries):
    client = app.test_client()
    login_staff(client, app, "admin")
    with queries() as week:
        assert (
            client.get("/admin/kpis?preset=custom&start=2026-03-01&end=2026-03-07").status_code
            == 200
        )
    with queries() as quarter:
        assert (
            client.get("/admin/kpis?preset=custom&start=2026-01-01&end=2026-03-31").status_code
            == 200
        )
    assert len(week) == len(quarter)


@pytest.mark.parametrize(
    ("query", "message", "kept"),
    [
        (
            "preset=custom&start=2026-13-01&end=2026-03-07",
            "Saisissez une date comme 2026-03-31.",
            'value="2026-13-01"',
        ),
        (
            "preset=custom&start=2026-03-07&end=2026-03-01",
            "Le dernier jour doit être le même que le premier ou venir après.",
            'value="2026-03-01"',
        ),
        (
            "preset=custom&start=2024-01-01&end=2026-03-01",
            "Choisissez au plus 366 jours.",
            'value="2024-01-01"',
        ),
        ("preset=custom", "Saisissez une date comme 2026-03-31.", 'name="start"'),
        (
            "preset=custom&start=0001-01-01&end=0001-01-05",
            "Saisissez une date comme 2026-03-31.",
            'value="0001-01-01"',
        ),
        ("preset=yesterday", "Choisissez une période dans la liste.", "<select"),
    ],
)
def test_bad_periods_are_refused_with_the_input_kept(app, query, message, kept):
    client = app.test_client()
    login_staff(client, app, "manager")
    response = client.get(f"/admin/kpis?{query}")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page
    assert kept in page
    assert "kpi-cards" not in page


def test_default_is_the_last_30_days(app):
    client = app.test_client()
    login_staff(client, app, "manager")
    page = client.get("/admin/kpis").get_data(as_text=True)
    assert re.search(r'<option selected value="30d">|<option value="30d" selected>', page)
    assert "(30\u00a0jours)" in page or "(30 jours)" in page


# -- the dashboard ------------------------------------------------------------------------------


def test_the_dashboard_counts_what_needs_doing_in_one_query(app, sales, queries):
    from shop.outbox.models import OutboxEvent, OutboxStatus
    from shop.reports import dashboard

    with app.app_context():
        order_factory.place([(sales["variants"][4], 1)])  # paid just now: 14 €
        db.session.add(OutboxEvent(type="order_paid", payload={}, status=OutboxStatus.DEAD))
        db.session.commit()
        with queries() as statements:
            counts = dashboard.counts(
                orders=True, stock=True, outbox=True, revenue=True, zone=PARIS
            )
    assert len(statements) == 1
    # Paid, not shipped: C, D, G, H, I and today's (A and B were partly refunded).
    assert counts == dashboard.Counts(
        to_ship=6,
        awaiting_transfer=1,
        low_stock=2,  # product 5 has no stock, the draft product's variant no item at all
        dead_events=1,
        revenue_today=1400,
        paid_today=1,
    )

    client = app.test_client()
    login_staff(client, app, "manager")
    page = client.get("/admin/").get_data(as_text=True)
    assert '<a href="/admin/orders?status=paid" class="attention">' in page
    assert '<span class="dashboard-count">6</span>' in page and "commandes à expédier" in page
    assert 'href="/admin/orders?status=pending_payment&amp;payment=bank_transfer"' in page
    assert "commande en attente d’un virement" in page
    assert 'href="/admin/stock/low"' in page and 'href="/admin/outbox"' in page
    assert "14,00\u00a0€" in page and "chiffre d’affaires du jour (1 commande payée)" in page
    today = kpis.today_in(PARIS).isoformat()
    assert f'href="/admin/kpis?preset=custom&amp;start={today}&amp;end={today}"' in page


def test_support_sees_only_the_order_counts(app, sales, queries):
    client = app.test_client()
    login_staff(client, app, "support")
    page = client.get("/admin/").get_data(as_text=True)
    assert "commandes à expédier" in page
    assert "/admin/stock" not in page and "/admin/outbox" not in page and "/admin/kpis" not in page
    assert "chiffre d’affaires du jour" not in page
