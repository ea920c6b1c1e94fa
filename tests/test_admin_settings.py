"""Settings in the back office: the store's legal identity, tax rates and delivery methods.

Every save is audited; bad input gets a translated 4xx with the form kept and nothing saved;
checkout charges what the admin set."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop.audit.models import AuditLog
from shop.checkout.models import ShippingMethod, TaxRate
from shop.extensions import db
from shop.platform.models import PlatformConfig
from tests.admin_support import admin_csrf, login_staff

HX = {"HX-Request": "true"}


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    login_staff(client, app, "admin")
    return client


def _audit(app: Flask, action: str | None = None) -> list[AuditLog]:
    with app.app_context():
        query = db.select(AuditLog).order_by(AuditLog.id)
        if action:
            query = query.where(AuditLog.action == action)
        return list(db.session.scalars(query))


def _settings(app: Flask) -> dict[str, tuple[str, bool]]:
    with app.app_context():
        rows = db.session.scalars(db.select(PlatformConfig))
        return {row.key: (row.value, row.encrypted) for row in rows}


def _error(html: str, field: str) -> str:
    match = re.search(rf'id="{field}-error">([^<]+)<', html)
    assert match, f"no error on {field}"
    return match.group(1)


# -- store identity --------------------------------------------------------------------------

IDENTITY = {
    "legal_name": "Comptoir SAS",
    "trade_name": "Comptoir",
    "legal_form": "SAS",
    "share_capital": "10 000,00",
    "legal_address": "12 rue des Lilas\r\n75011 Paris\r\nFrance",
    "siret": "732 829 320 00074",
    "vat_number": "fr 44 732829320",
    "rcs": "rcs Paris 732829320",
    "gst_number": "123456782RT0001",
    "qst_number": "1234567890 tq 0001",
    "legal_email": "factures@comptoir.example.com",
    "legal_phone": "+33 1 23 45 67 89",
}


def test_the_identity_is_saved_normalized_and_audited_and_read_by_invoices(app, admin):
    token = admin_csrf(admin)
    response = admin.post("/admin/settings/identity", data={**IDENTITY, "csrf_token": token})

    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/settings/identity"
    stored = {key: value for key, (value, _) in _settings(app).items()}
    assert stored["siret"] == "732 829 320 00074"
    assert stored["vat_number"] == "FR44 732829320"
    assert stored["rcs"] == "RCS Paris 732 829 320"
    assert stored["gst_number"] == "123456782 RT0001"
    assert stored["qst_number"] == "1234567890 TQ0001"
    assert stored["share_capital"] == "1000000"
    assert stored["legal_address"] == "12 rue des Lilas\r\n75011 Paris\r\nFrance"
    with app.app_context():
        from shop.invoices.services import seller_identity

        seller = seller_identity()
    assert seller["legal_name"] == "Comptoir SAS"
    assert seller["rcs"] == "RCS Paris 732 829 320"
    [entry] = _audit(app)
    assert (entry.action, entry.entity_type, entry.entity_id) == (
        "settings.update",
        "settings",
        "identity",
    )
    assert entry.before == {key: "" for key in IDENTITY}
    assert entry.after["vat_number"] == "FR44 732829320"
    # The page shows the saved values, in the staff member's language.
    page = admin.get("/admin/settings/identity").get_data(as_text=True)
    assert 'value="FR44 732829320"' in page
    assert 'value="10000,00"' in page
    assert "Paramètres enregistrés." in page


def test_a_second_save_audits_only_the_changed_keys(app, admin):
    token = admin_csrf(admin)
    admin.post("/admin/settings/identity", data={**IDENTITY, "csrf_token": token})
    response = admin.post(
        "/admin/settings/identity",
        data={**IDENTITY, "legal_phone": "", "trade_name": "Comptoir Paris", "csrf_token": token},
        headers=HX,
    )

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.startswith('<form id="identity-form"')
    assert "Paramètres enregistrés." in html
    entry = _audit(app)[-1]
    assert entry.before == {"legal_phone": "+33 1 23 45 67 89", "trade_name": "Comptoir"}
    assert entry.after == {"legal_phone": "", "trade_name": "Comptoir Paris"}
    assert "legal_phone" not in _settings(app)  # emptied: unset again

    unchanged = admin.post(
        "/admin/settings/identity",
        data={**IDENTITY, "legal_phone": "", "trade_name": "Comptoir Paris", "csrf_token": token},
        headers=HX,
    )
    assert "Rien n’a changé." in unchanged.get_data(as_text=True)
    assert len(_audit(app)) == 2


def test_the_demo_identity_passes_the_checks(app, admin):
    with app.app_context():
        from shop.invoices.services import load_demo_identity

        load_demo_identity()
    before = _settings(app)
    page = admin.get("/admin/settings/identity").get_data(as_text=True)
    form = {
        name: value
        for name, value in re.findall(r'<input[^>]+name="([a-z_]+)"[^>]+value="([^"]*)"', page)
    }
    form["legal_address"] = re.search(r"<textarea[^>]*>\s*([^<]*)</textarea>", page).group(1)

    response = admin.post("/admin/settings/identity", data=form, headers=HX)

    assert response.status_code == 200, _error(response.get_data(as_text=True), "vat_number")
    assert "Rien n’a changé." in response.get_data(as_text=True)
    assert _settings(app) == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("siret", "732 829 320 00075", "Ce numéro n’est pas valide"),
        ("siret", "7328293200007", "Un SIREN compte 9 chiffres et un SIRET 14 chiffres."),
        ("vat_number", "FR45 732829320", "La clé de ce numéro de TVA ne correspond pas"),
        ("vat_number", "FR64 443061841", "appartient à un autre SIREN que le vôtre"),
        ("vat_number", "732829320", "avec son préfixe de pays"),
        ("rcs", "RCS Paris 443 061 841", "un autre SIREN que le vôtre"),
        ("rcs", "Paris", "comme sur votre extrait Kbis"),
        ("gst_number", "123456789 RT0001", "Ce numéro n’est pas valide"),
        ("gst_number", "123456782 RC0001", "Un numéro de TPS/TVH"),
        ("qst_number", "123456789 TQ0001", "Un numéro de TVQ"),
        ("legal_email", "factures@", "Saisissez une adresse e-mail valide."),
        ("legal_phone", "appelez-nous", "Saisissez un numéro de téléphone"),
        ("share_capital", "-10", "La valeur ne peut pas être négative."),
        ("share_capital", "10,001", "Utilisez au plus 2 décimales."),
        ("legal_name", "", "Ce champ est obligatoire."),
    ],
)
def test_bad_identity_input_is_refused_keeping_the_input(app, admin, field, value, message):
    token = admin_csrf(admin)
    admin.post("/admin/settings/identity", data={**IDENTITY, "csrf_token": token})
    before, audits = _settings(app), len(_audit(app))

    form = {**IDENTITY, "trade_name": "Nouveau nom", field: value, "csrf_token": token}
    response = admin.post("/admin/settings/identity", data=form)

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in _error(html, field)
    assert 'value="Nouveau nom"' in html  # the rest of the input is kept
    if value:
        assert f'value="{value}"' in html
    assert _settings(app) == before
    assert len(_audit(app)) == audits


def test_an_empty_identity_form_is_a_422(app, admin):
    response = admin.post("/admin/settings/identity", data={"csrf_token": admin_csrf(admin)})
    assert response.status_code == 422
    assert "Ce champ est obligatoire." in _error(response.get_data(as_text=True), "legal_name")
    assert _settings(app) == {}


def test_a_stale_csrf_token_keeps_the_form(app, admin):
    response = admin.post("/admin/settings/identity", data={**IDENTITY, "csrf_token": "stale"})
    assert response.status_code == 400
    assert 'value="Comptoir SAS"' in response.get_data(as_text=True)
    assert _settings(app) == {}


# -- tax rates -------------------------------------------------------------------------------

RATE = {
    "country": "CA",
    "region": "QC",
    "tax_class": "standard",
    "name_fr": "TVQ",
    "name_en": "QST",
    "rate": "9,975",
    "position": "1",
}


def test_tax_rates_are_listed_in_one_query_per_page(app, admin, queries):
    with app.app_context():
        from shop.checkout.defaults import load_defaults

        load_defaults()
        db.session.commit()
    admin.get("/admin/settings/taxes")
    with queries() as statements:
        response = admin.get("/admin/settings/taxes")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "TVA 5,5\u202f%" in html and "Québec" in html and "9,975\u202f%" in html
    rate_queries = [s for s in statements if "FROM tax_rates" in s]
    assert len(rate_queries) == 1
    assert len(statements) <= 6, statements

    filtered = admin.get("/admin/settings/taxes?country=CA", headers=HX)
    fragment = filtered.get_data(as_text=True)
    assert fragment.startswith('<div id="tax-rates">')
    assert "Québec" in fragment and "Allemagne" not in fragment


def test_a_tax_rate_is_added_in_the_staff_locale_and_audited(app, admin):
    token = admin_csrf(admin)
    response = admin.post("/admin/settings/taxes/new", data={**RATE, "csrf_token": token})

    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/settings/taxes?country=CA"
    with app.app_context():
        rate = db.session.execute(db.select(TaxRate)).scalar_one()
        assert (rate.country, rate.region, rate.tax_class, rate.rate_ppm, rate.position) == (
            "CA",
            "QC",
            "standard",
            99_750,
            1,
        )
        rate_id = rate.id
    [entry] = _audit(app)
    assert (entry.action, entry.entity_type, entry.entity_id) == (
        "tax_rate.create",
        "tax_rate",
        str(rate_id),
    )
    assert entry.before is None
    assert entry.after["rate_ppm"] == 99_750 and entry.after["name_fr"] == "TVQ"


def test_a_tax_rate_is_edited_and_deleted_with_a_confirmation(app, admin):
    token = admin_csrf(admin)
    admin.post("/admin/settings/taxes/new", data={**RATE, "csrf_token": token})
    with app.app_context():
        rate_id = db.session.execute(db.select(TaxRate.id)).scalar_one()

    page = admin.get(f"/admin/settings/taxes/{rate_id}").get_data(as_text=True)
    assert 'value="9,975"' in page
    response = admin.post(
        f"/admin/settings/taxes/{rate_id}", data={**RATE, "rate": "10", "csrf_token": token}
    )
    assert response.status_code == 303
    update = _audit(app, "tax_rate.update")[0]
    assert (update.before, update.after) == ({"rate_ppm": 99_750}, {"rate_ppm": 100_000})

    bare = admin.post(f"/admin/settings/taxes/{rate_id}/delete", data={"csrf_token": token})
    assert bare.status_code == 422
    assert "Veuillez confirmer avec le bouton." in bare.get_data(as_text=True)
    confirm = admin.get(f"/admin/settings/taxes/{rate_id}/delete").get_data(as_text=True)
    assert (
        "Supprimer «\u202fTVQ\u202f» (10\u202f%) pour Canada — Québec, taux normal\u202f?"
        in confirm
    )
    deleted = admin.post(
        f"/admin/settings/taxes/{rate_id}/delete", data={"csrf_token": token, "confirm": "yes"}
    )
    assert deleted.status_code == 303
    with app.app_context():
        assert db.session.get(TaxRate, rate_id) is None
    entry = _audit(app, "tax_rate.delete")[0]
    assert entry.before["rate_ppm"] == 100_000 and entry.after is None
    assert admin.get(f"/admin/settings/taxes/{rate_id}").status_code == 404


@pytest.mark.parametrize(
    ("changes", "field", "message", "status"),
    [
        ({"rate": "abc"}, "rate", "Saisissez un nombre, par exemple 5,5.", 422),
        ({"rate": "-5"}, "rate", "La valeur ne peut pas être négative.", 422),
        ({"rate": "120"}, "rate", "Un taux est compris entre 0 et 100\u202f%.", 422),
        ({"rate": "9,97512"}, "rate", "Utilisez au plus 4 décimales.", 422),
        ({"rate": ""}, "rate", "Ce champ est obligatoire.", 422),
        ({"country": "US"}, "country", "Choisissez un pays dans la liste.", 422),
        ({"country": "FR"}, "region", "Les provinces ne concernent que le Canada.", 422),
        ({"tax_class": "luxury"}, "tax_class", "Choisissez une catégorie de taxe", 422),
        ({"name_fr": ""}, "name_fr", "Ce champ est obligatoire.", 422),
        ({"name_en": "GST"}, "name_fr", "a déjà une taxe de ce nom", 409),
    ],
)
def test_bad_tax_rates_are_refused_keeping_the_input(app, admin, changes, field, message, status):
    token = admin_csrf(admin)
    admin.post(
        "/admin/settings/taxes/new",
        data={**RATE, "name_fr": "TPS", "name_en": "GST", "rate": "5", "csrf_token": token},
    )
    before, audits = _count(app, TaxRate), len(_audit(app))

    response = admin.post(
        "/admin/settings/taxes/new", data={**RATE, **changes, "csrf_token": token}
    )

    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert message in _error(html, field)
    typed = {**RATE, **changes}
    if typed["rate"]:
        assert f'value="{typed["rate"]}"' in html
    assert _count(app, TaxRate) == before
    assert len(_audit(app)) == audits


def _count(app: Flask, model) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_an_english_speaking_admin_types_rates_with_a_point(app):
    client = app.test_client()
    login_staff(client, app, "admin")
    token = admin_csrf(client)
    client.post("/admin/language", data={"csrf_token": token, "locale": "en", "next": "/admin/"})
    response = client.post(
        "/admin/settings/taxes/new", data={**RATE, "rate": "9.975", "csrf_token": token}
    )
    assert response.status_code == 303
    wrong = client.post(
        "/admin/settings/taxes/new",
        data={**RATE, "name_fr": "X", "name_en": "Y", "rate": "abc", "csrf_token": token},
    )
    assert "Enter a number, e.g. 5.5." in _error(wrong.get_data(as_text=True), "rate")
    with app.app_context():
        assert db.session.execute(db.select(TaxRate.rate_ppm)).scalar_one() == 99_750


# -- checkout charges what the admin set -----------------------------------------------------

QUEBEC = {
    "first_name": "Camille",
    "last_name": "Tremblay",
    "company": "",
    "line1": "1200 rue Sherbrooke Ouest",
    "line2": "",
    "postal_code": "H3A 1H6",
    "city": "Montréal",
    "country": "CA",
    "region": "QC",
    "phone": "",
}


def _quebec_order(app: Flask, product_id: int) -> tuple[int, list[tuple[str, int, int]]]:
    """One unit of ``product_id`` delivered to Montréal by Canada Post."""
    from shop.checkout import services as checkout
    from shop.orders.models import Order
    from tests.test_orders import _cart, _variant_of

    with app.app_context():
        cart_id = _cart(_variant_of(product_id), 1)
        checkout.start_checkout(cart_id)
        details = checkout.CheckoutDetails(
            email="camille@example.com",
            shipping_address=QUEBEC,
            billing_address=QUEBEC,
            shipping_method="canada-post",
            payment_method="bank_transfer",
            locale="fr",
        )
        order = checkout.place_order(cart_id, details)
        order = db.session.get(Order, order.id)
        taxes = [(line.name_en, line.rate_ppm, line.amount) for line in order.tax_lines]
        return order.total, taxes


def test_checkout_charges_a_tax_rate_edited_in_the_admin(app, admin):
    from shop.checkout.defaults import load_defaults
    from shop.platform.services import set_setting
    from tests import catalogue_factory

    with app.app_context():
        products = catalogue_factory.build(4)["products"]
        load_defaults()
        db.session.commit()
        set_setting("prices_include_tax", "false")  # Canada: prices before tax
        qst_id = db.session.execute(
            db.select(TaxRate.id).where(
                TaxRate.region == "QC", TaxRate.name_en == "QST", TaxRate.tax_class == "standard"
            )
        ).scalar_one()
    total_before, taxes_before = _quebec_order(app, products[2])
    assert ("QST", 99_750) in [(name, rate) for name, rate, _ in taxes_before]

    token = admin_csrf(admin)
    response = admin.post(
        f"/admin/settings/taxes/{qst_id}",
        data={**RATE, "name_fr": "TVQ", "name_en": "QST", "rate": "12,5", "csrf_token": token},
    )
    assert response.status_code == 303

    total_after, taxes_after = _quebec_order(app, products[2])
    # 12 € and 24,90 € of shipping, before tax: 36,90 €; QST 9,975 % → 12,5 %.
    base = 1200 + 2490
    assert [(n, r) for n, r, _ in taxes_after] == [("GST", 50_000), ("QST", 125_000)]
    assert dict((n, a) for n, _, a in taxes_after)["QST"] == (base * 125_000 + 500_000) // 1_000_000
    assert (
        total_after - total_before
        == (base * 125_000 + 500_000) // 1_000_000 - (base * 99_750 + 500_000) // 1_000_000
    )
    assert total_after > total_before


# -- delivery methods ------------------------------------------------------------------------

METHOD = {
    "code": "relais",
    "kind": "free_over",
    "name_fr": "Point relais",
    "name_en": "Pickup point",
    "price": "4,90",
    "free_over": "50",
    "countries": ["FR", "BE"],
    "tax_class": "standard",
    "position": "3",
    "active": "y",
}


def test_a_delivery_method_is_added_with_prices_typed_as_decimals(app, admin):
    token = admin_csrf(admin)
    response = admin.post("/admin/settings/shipping/new", data={**METHOD, "csrf_token": token})

    assert response.status_code == 303
    with app.app_context():
        method = db.session.execute(db.select(ShippingMethod)).scalar_one()
        assert (method.code, method.price, method.free_over, method.countries, method.active) == (
            "relais",
            490,
            5000,
            ["FR", "BE"],
            True,
        )
        from shop.checkout.shipping import available_methods

        assert [q.price for q in available_methods("BE", 4999)] == [490]
        assert [q.price for q in available_methods("BE", 5000)] == [0]
        assert available_methods("DE", 1000) == []
        method_id = method.id
    [entry] = _audit(app)
    assert (entry.action, entry.entity_id) == ("shipping_method.create", str(method_id))
    assert entry.after["price"] == 490 and entry.after["countries"] == ["FR", "BE"]
    page = admin.get("/admin/settings/shipping").get_data(as_text=True)
    assert "Point relais" in page and "4,90\u00a0€" in page and "50,00\u00a0€" in page


def test_the_delivery_list_and_the_overview_read_each_table_once(app, admin, queries):
    with app.app_context():
        from shop.checkout.defaults import load_defaults

        load_defaults()
        db.session.commit()
    admin.get("/admin/settings/shipping")
    with queries() as statements:
        listing = admin.get("/admin/settings/shipping")
    assert listing.status_code == 200
    assert listing.get_data(as_text=True).count('<tr id="shipping-method-') == 4
    assert len([s for s in statements if "FROM shipping_methods" in s]) == 1
    assert len(statements) <= 6, statements

    with queries() as statements:
        overview = admin.get("/admin/settings")
    html = overview.get_data(as_text=True)
    assert overview.status_code == 200
    assert "4 modes proposés" in html and "Paiement par carte activé" in html
    assert len(statements) <= 8, statements


def test_a_delivery_method_is_withdrawn_and_edited(app, admin, hx):
    token = admin_csrf(admin)
    admin.post("/admin/settings/shipping/new", data={**METHOD, "csrf_token": token})
    with app.app_context():
        method_id = db.session.execute(db.select(ShippingMethod.id)).scalar_one()

    row = admin.post(
        f"/admin/settings/shipping/{method_id}/active",
        data={"active": "0", "csrf_token": token},
        headers=hx(),
    )
    html = row.get_data(as_text=True)
    assert row.status_code == 200
    assert html.startswith(f'<tr id="shipping-method-{method_id}"')
    assert "Retiré" in html and 'value="1"' in html
    with app.app_context():
        from shop.checkout.shipping import available_methods

        assert available_methods("FR", 1000) == []
    assert [(e.action, e.before, e.after) for e in _audit(app)][-1] == (
        "shipping_method.disable",
        {"active": True},
        {"active": False},
    )
    bare = admin.post(f"/admin/settings/shipping/{method_id}/active", data={"csrf_token": token})
    assert bare.status_code == 422

    page = admin.get(f"/admin/settings/shipping/{method_id}").get_data(as_text=True)
    assert 'value="4,90"' in page and 'value="50,00"' in page
    assert re.search(r'<input[^>]*checked[^>]*value="BE"|<input[^>]*value="BE"[^>]*checked', page)
    response = admin.post(
        f"/admin/settings/shipping/{method_id}",
        data={**METHOD, "price": "5,50", "countries": ["FR"], "csrf_token": token},
    )
    assert response.status_code == 303
    update = _audit(app, "shipping_method.update")[0]
    assert update.before == {"price": 490, "countries": ["FR", "BE"], "active": False}
    assert update.after == {"price": 550, "countries": ["FR"], "active": True}


@pytest.mark.parametrize(
    ("changes", "field", "message", "status"),
    [
        ({"price": "-1"}, "price", "La valeur ne peut pas être négative.", 422),
        ({"price": "4,999"}, "price", "Utilisez au plus 2 décimales.", 422),
        ({"price": "quatre"}, "price", "Saisissez un nombre", 422),
        ({"price": "30 000 000"}, "price", "Ce montant est trop élevé.", 422),  # int4 column
        ({"free_over": "− 5"}, "free_over", "La valeur ne peut pas être négative.", 422),
        ({"free_over": ""}, "free_over", "à partir duquel la livraison est offerte", 422),
        ({"kind": "pickup", "countries": []}, "countries", "cochez-en au moins un", 422),
        ({"countries": ["US"]}, "countries", "Choisissez des pays dans la liste.", 422),
        ({"code": "Point Relais"}, "code", "lettres minuscules", 422),
        ({"name_en": ""}, "name_en", "Ce champ est obligatoire.", 422),
        ({"code": "colissimo"}, "code", "utilise déjà ce code", 409),
    ],
)
def test_bad_delivery_methods_are_refused_keeping_the_input(
    app, admin, changes, field, message, status
):
    token = admin_csrf(admin)
    admin.post(
        "/admin/settings/shipping/new",
        data={**METHOD, "code": "colissimo", "name_fr": "Colissimo", "csrf_token": token},
    )
    before, audits = _count(app, ShippingMethod), len(_audit(app))

    response = admin.post(
        "/admin/settings/shipping/new", data={**METHOD, **changes, "csrf_token": token}
    )

    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert message in _error(html, field)
    assert 'value="Point relais"' in html or changes.get("name_fr") == ""
    assert _count(app, ShippingMethod) == before
    assert len(_audit(app)) == audits


# -- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["manager", "support"])
def test_only_admins_reach_the_settings(app, role):
    from tests.admin_support import sample_url_values
    from tests.test_admin_access import _admin_rules, _database_fingerprint

    client = app.test_client()
    login_staff(client, app, role)
    values = sample_url_values(app)
    token = admin_csrf(client)
    rules = [r for r in _admin_rules(app) if r.endpoint.startswith("admin.settings")]
    assert len(rules) == 16  # with the home page hero (issue 13)
    for rule in rules:
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})
        if "GET" in rule.methods:
            response = client.get(url)
            assert response.status_code == 403, url
        if "POST" in rule.methods:
            before = _database_fingerprint(app)
            response = client.post(url, data={**IDENTITY, **RATE, "csrf_token": token})
            assert response.status_code == 403, url
            assert _database_fingerprint(app) == before, url
