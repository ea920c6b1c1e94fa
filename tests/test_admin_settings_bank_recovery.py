"""Settings that were SQL only: the bank details customers pay a transfer to, and the
abandoned-cart reminders (delays and legal basis).

Each save is audited before/after; bad input is a translated 422 with the input kept, nothing
stored and no audit row; the storefront and the reminder job read a change at once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop.audit.models import AuditLog
from shop.extensions import db
from shop.orders.models import Order
from shop.platform.models import PlatformConfig
from shop.platform.services import update_settings
from shop.recovery import policy
from tests.admin_support import admin_csrf, login_staff
from tests.conftest import csrf_token
from tests.test_checkout import _add, _details_form, _sku_variant
from tests.test_checkout import shop as shop  # the checkout's catalogue fixture

HX = {"HX-Request": "true"}
HOUR = timedelta(hours=1)
BANK = {
    "bank_holder": "Comptoir SAS",
    "bank_iban": "fr76 3000-6000 0112 3456 7890 189",
    "bank_bic": "agri fr pp",
}
IBAN = "FR7630006000011234567890189"
IBAN_GROUPED = "FR76 3000 6000 0112 3456 7890 189"


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    login_staff(client, app, "admin")
    return client


def _audit(app: Flask) -> list[AuditLog]:
    with app.app_context():
        return list(db.session.scalars(db.select(AuditLog).order_by(AuditLog.id)))


def _settings(app: Flask) -> dict[str, str]:
    with app.app_context():
        return {row.key: row.value for row in db.session.scalars(db.select(PlatformConfig))}


def _bank_settings(app: Flask) -> dict[str, str]:
    return {k: v for k, v in _settings(app).items() if k.startswith("bank_")}


def _error(html: str, field: str) -> str:
    match = re.search(rf'id="{field}-error">([^<]+)<', html)
    assert match, f"no error on {field}"
    return match.group(1)


def _clear_bank(app: Flask) -> None:
    """The checkout fixture offers bank transfer; these tests start from a shop without."""
    update_settings({}, remove=["bank_holder", "bank_iban", "bank_bic"])


def _order_by_transfer(app: Flask, client: FlaskClient) -> str:
    """A bank-transfer order through the storefront; returns its confirmation page."""
    _add(client, _sku_variant(app, "SKU-2"))
    client.get("/fr/commande")
    assert client.post("/fr/commande", data=_details_form(client)).status_code == 303
    placed = client.post(
        "/fr/commande/recapitulatif", data={"csrf_token": csrf_token(client, "/fr/")}
    )
    assert placed.status_code == 303
    return client.get(placed.headers["Location"]).get_data(as_text=True)


# -- bank details ----------------------------------------------------------------------------


def test_bank_details_are_saved_compact_audited_and_shown_to_customers(app, admin, client, shop):
    with app.app_context():
        _clear_bank(app)

    response = admin.post("/admin/settings/bank", data={**BANK, "csrf_token": admin_csrf(admin)})

    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/settings/bank"
    assert _bank_settings(app) == {
        "bank_holder": "Comptoir SAS",
        "bank_iban": IBAN,
        "bank_bic": "AGRIFRPP",
    }
    [entry] = _audit(app)
    assert (entry.action, entry.entity_type, entry.entity_id) == (
        "settings.update",
        "settings",
        "bank",
    )
    assert entry.before == {"bank_holder": "", "bank_iban": "", "bank_bic": ""}
    assert entry.after == {"bank_holder": "Comptoir SAS", "bank_iban": IBAN, "bank_bic": "AGRIFRPP"}
    page = admin.get("/admin/settings/bank").get_data(as_text=True)
    assert f'value="{IBAN_GROUPED}"' in page
    assert "Paramètres enregistrés." in page
    assert "Virement proposé" in page

    confirmation = _order_by_transfer(app, client)

    assert "Comment payer par virement" in confirmation
    assert f"<dt>IBAN</dt><dd>{IBAN_GROUPED}</dd>" in confirmation
    assert "<dt>BIC</dt><dd>AGRIFRPP</dd>" in confirmation
    assert "<dd>Comptoir SAS</dd>" in confirmation


def test_an_htmx_save_returns_the_form_and_an_unchanged_save_writes_nothing(app, admin, shop):
    token = admin_csrf(admin)
    admin.post("/admin/settings/bank", data={**BANK, "csrf_token": token})
    audits = len(_audit(app))

    response = admin.post(
        "/admin/settings/bank",
        data={**BANK, "bank_iban": IBAN_GROUPED, "csrf_token": token},
        headers=HX,
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.startswith('<form id="bank-form"')
    assert "Rien n’a changé." in html
    assert len(_audit(app)) == audits


def test_the_demo_bank_details_pass_the_checks(app, admin):
    with app.app_context():
        from shop.platform.bank import load_demo_bank_details

        assert load_demo_bank_details() == ["payments: demo bank details for bank transfers"]
        assert load_demo_bank_details() == []  # kept once the shop has an IBAN
    before = _settings(app)
    page = admin.get("/admin/settings/bank").get_data(as_text=True)
    form = dict(re.findall(r'<input[^>]+name="(bank_[a-z]+)"[^>]+value="([^"]*)"', page))
    assert form["bank_iban"] == IBAN_GROUPED

    response = admin.post(
        "/admin/settings/bank", data={**form, "csrf_token": admin_csrf(admin)}, headers=HX
    )

    assert response.status_code == 200
    assert "Rien n’a changé." in response.get_data(as_text=True)
    assert _settings(app) == before


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        # one digit off: ISO 7064 check digits
        (
            {"bank_iban": "FR76 3000 6000 0112 3456 7890 188"},
            "bank_iban",
            "Les chiffres de contrôle de cet IBAN ne correspondent pas",
        ),
        # check digits right, but XX is no country
        ({"bank_iban": "XX36 1234 5678 90"}, "bank_iban", "le code d’un pays qui utilise"),
        # check digits right, but a French IBAN has 27 characters
        (
            {"bank_iban": "FR04 3000 6000 0112 3456 7890 1"},
            "bank_iban",
            "la longueur ou la structure des IBAN de son pays",
        ),
        ({"bank_iban": "n° 12345"}, "bank_iban", "Un IBAN se compose de deux lettres"),
        ({"bank_bic": "AGRIFRP"}, "bank_bic", "Un BIC compte 8 ou 11 caractères"),
        ({"bank_bic": "AGRIXXPP"}, "bank_bic", "celui-ci est inconnu"),
        ({"bank_bic": "AGR1FRPP"}, "bank_bic", "Un BIC se compose de 4 lettres"),
        ({"bank_holder": ""}, "bank_holder", "Indiquez le titulaire du compte de cet IBAN."),
        (
            {"bank_iban": ""},
            "bank_iban",
            "Saisissez l’IBAN, ou videz tous les champs pour ne plus proposer le virement.",
        ),
        ({"bank_holder": "x" * 71}, "bank_holder", "70 caractères au plus."),
    ],
)
def test_bad_bank_details_are_refused_keeping_the_input(app, admin, shop, changes, field, message):
    before, audits = _settings(app), len(_audit(app))
    form = {**BANK, "bank_holder": "Nouveau titulaire", **changes, "csrf_token": admin_csrf(admin)}

    response = admin.post("/admin/settings/bank", data=form)

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in _error(html, field)
    assert f'value="{form[field]}"' in html  # what was typed, as typed
    if field != "bank_holder":
        assert 'value="Nouveau titulaire"' in html
    assert _settings(app) == before
    assert len(_audit(app)) == audits


def test_clearing_the_bank_details_stops_offering_bank_transfer(app, admin, client, shop):
    token = admin_csrf(admin)
    admin.post("/admin/settings/bank", data={**BANK, "csrf_token": token})
    # A shopper has chosen bank transfer and is on the review page...
    _add(client, _sku_variant(app, "SKU-2"))
    client.get("/fr/commande")
    assert client.post("/fr/commande", data=_details_form(client)).status_code == 303

    cleared = admin.post(
        "/admin/settings/bank",
        data={"bank_holder": "", "bank_iban": "", "bank_bic": "", "csrf_token": token},
    )

    assert cleared.status_code == 303
    assert _bank_settings(app) == {}
    entry = _audit(app)[-1]
    assert entry.before == {
        "bank_holder": "Comptoir SAS",
        "bank_iban": IBAN,
        "bank_bic": "AGRIFRPP",
    }
    assert entry.after == {"bank_holder": "", "bank_iban": "", "bank_bic": ""}
    assert "Virement non proposé" in admin.get("/admin/settings/bank").get_data(as_text=True)
    # ... placing the order sends them back to choose another way to pay, and none is made.
    placed = client.post(
        "/fr/commande/recapitulatif", data={"csrf_token": csrf_token(client, "/fr/")}
    )
    assert placed.status_code == 302
    assert placed.headers["Location"] == "/fr/commande"
    page = client.get("/fr/commande").get_data(as_text=True)
    assert "Ce moyen de paiement n’est plus disponible." in page
    assert 'value="bank_transfer"' not in page
    assert 'value="card" checked' in page  # card is what is left (Stripe keys are set)
    refused = client.post("/fr/commande", data=_details_form(client))
    assert refused.status_code == 422
    assert "Veuillez choisir un moyen de paiement." in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Order.id))) == 0


def test_without_card_payment_or_bank_details_the_checkout_says_it_cannot_take_orders(
    app, client, shop
):
    with app.app_context():
        _clear_bank(app)
    saved = app.config["STRIPE_SECRET_KEY"]
    app.config["STRIPE_SECRET_KEY"] = None
    try:
        _add(client, _sku_variant(app, "SKU-2"))
        page = client.get("/fr/commande").get_data(as_text=True)
        assert 'name="payment_method"' not in page
        assert "Aucun moyen de paiement n’est disponible pour le moment" in page
        response = client.post("/fr/commande", data=_details_form(client))
        assert response.status_code == 422
        assert "Veuillez choisir un moyen de paiement." in response.get_data(as_text=True)
    finally:
        app.config["STRIPE_SECRET_KEY"] = saved


def test_an_order_awaiting_a_transfer_whose_details_were_cleared_says_to_contact_us(
    app, client, shop
):
    confirmation = _order_by_transfer(app, client)
    assert IBAN_GROUPED in confirmation
    token_path = re.search(r'/fr/commande/confirmation/[^"<\s]+', confirmation)
    with app.app_context():
        _clear_bank(app)
        order = db.session.execute(db.select(Order)).scalar_one()
        path = f"/fr/commande/confirmation/{_access_token(order)}"
    assert token_path is None or token_path.group(0) == path

    page = client.get(path).get_data(as_text=True)

    assert "IBAN" not in page
    assert "Nos coordonnées bancaires ne peuvent pas être affichées pour le moment" in page


def _access_token(order: Order) -> str:
    from shop.orders.services import access_token

    return access_token(order)


def test_the_overview_says_whether_bank_transfer_is_offered(app, admin, shop):
    page = admin.get("/admin/settings").get_data(as_text=True)
    assert "Virement proposé" in page and IBAN_GROUPED in page
    with app.app_context():
        _clear_bank(app)
    saved = app.config["STRIPE_SECRET_KEY"]
    app.config["STRIPE_SECRET_KEY"] = None
    try:
        page = admin.get("/admin/settings").get_data(as_text=True)
    finally:
        app.config["STRIPE_SECRET_KEY"] = saved
    assert "Virement non proposé" in page
    assert "Aucun moyen de paiement\u00a0: les clients ne peuvent pas commander." in page


# -- abandoned carts -------------------------------------------------------------------------

RECOVERY = {"cart_recovery_delays": "2, 48", "cart_recovery_basis": "legitimate_interest"}


def _checked_basis(html: str) -> list[str]:
    inputs = re.findall(r'<input[^>]*name="cart_recovery_basis"[^>]*>', html)
    return [re.search(r'value="([^"]*)"', tag).group(1) for tag in inputs if " checked" in tag]


def test_reminder_settings_show_the_defaults_and_explain_each_basis(app, admin):
    page = admin.get("/admin/settings/abandoned-carts").get_data(as_text=True)
    assert 'value="1, 24, 72"' in page
    assert _checked_basis(page) == ["consent"]
    assert "Seuls les clients qui ont accepté les e-mails commerciaux" in page
    assert "Toute personne qui a laissé une adresse e-mail" in page
    english = app.test_client()
    login_staff(english, app, "admin", "english.admin@example.com")
    english.post(
        "/admin/language",
        data={"csrf_token": admin_csrf(english), "locale": "en", "next": "/admin/"},
    )
    page = english.get("/admin/settings/abandoned-carts").get_data(as_text=True)
    assert "Only customers who accepted marketing emails" in page
    assert "Anyone who left an email address" in page


def test_reminder_settings_are_saved_audited_and_used_at_once(app, admin, client, shop):
    _add(client, _sku_variant(app, "SKU-2"))
    assert "M’envoyer un rappel" in client.get("/fr/commande").get_data(as_text=True)

    response = admin.post(
        "/admin/settings/abandoned-carts",
        data={**RECOVERY, "csrf_token": admin_csrf(admin)},
    )

    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/settings/abandoned-carts"
    stored = _settings(app)
    assert stored["cart_recovery_delays"] == "2,48"
    assert stored["cart_recovery_basis"] == "legitimate_interest"
    [entry] = [e for e in _audit(app) if e.entity_id == "cart_recovery"]
    assert (entry.action, entry.entity_type) == ("settings.update", "settings")
    assert entry.before == {"cart_recovery_delays": "1,24,72", "cart_recovery_basis": "consent"}
    assert entry.after == {
        "cart_recovery_delays": "2,48",
        "cart_recovery_basis": "legitimate_interest",
    }
    with app.app_context():  # what the reminder job reads next
        assert policy.delays() == (2 * HOUR, 48 * HOUR)
        assert policy.basis() == policy.LEGITIMATE_INTEREST
    # The checkout no longer asks for consent: everyone may be reminded now.
    assert "M’envoyer un rappel" not in client.get("/fr/commande").get_data(as_text=True)
    page = admin.get("/admin/settings/abandoned-carts").get_data(as_text=True)
    assert 'value="2, 48"' in page
    assert _checked_basis(page) == ["legitimate_interest"]
    overview = admin.get("/admin/settings").get_data(as_text=True)
    assert "Relances après 2, 48 heures" in overview


def test_empty_delays_mean_no_reminders_and_an_unchanged_save_writes_nothing(app, admin):
    token = admin_csrf(admin)
    form = {"cart_recovery_delays": "", "cart_recovery_basis": "consent", "csrf_token": token}

    response = admin.post("/admin/settings/abandoned-carts", data=form, headers=HX)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.startswith('<form id="recovery-form"')
    assert "Paramètres enregistrés." in html
    assert _settings(app)["cart_recovery_delays"] == ""
    with app.app_context():
        assert policy.delays() == ()
    assert "Aucune relance" in admin.get("/admin/settings").get_data(as_text=True)
    [entry] = _audit(app)
    assert entry.before == {"cart_recovery_delays": "1,24,72"}
    assert entry.after == {"cart_recovery_delays": ""}

    again = admin.post("/admin/settings/abandoned-carts", data=form, headers=HX)
    assert "Rien n’a changé." in again.get_data(as_text=True)
    assert len(_audit(app)) == 1


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"cart_recovery_delays": "1, 24, 72, 96"}, "cart_recovery_delays", "au plus 3 relances"),
        ({"cart_recovery_delays": "24, 1"}, "cart_recovery_delays", "dans l’ordre croissant"),
        ({"cart_recovery_delays": "1, 1"}, "cart_recovery_delays", "dans l’ordre croissant"),
        ({"cart_recovery_delays": "0, 24"}, "cart_recovery_delays", "au moins 1 heure"),
        ({"cart_recovery_delays": "1, 800"}, "cart_recovery_delays", "30 jours (720 heures)"),
        ({"cart_recovery_delays": "1.5"}, "cart_recovery_delays", "nombres entiers"),
        ({"cart_recovery_delays": "-1"}, "cart_recovery_delays", "nombres entiers"),
        ({"cart_recovery_delays": "une heure"}, "cart_recovery_delays", "nombres entiers"),
        ({"cart_recovery_basis": "everyone"}, "cart_recovery_basis", "qui reçoit les relances"),
    ],
)
def test_bad_reminder_settings_are_refused_keeping_the_input(app, admin, changes, field, message):
    before, audits = _settings(app), len(_audit(app))
    form = {**RECOVERY, **changes, "csrf_token": admin_csrf(admin)}

    response = admin.post("/admin/settings/abandoned-carts", data=form)

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in _error(html, field)
    assert f'value="{form["cart_recovery_delays"]}"' in html
    if form["cart_recovery_basis"] == "legitimate_interest":
        assert _checked_basis(html) == ["legitimate_interest"]
    assert _settings(app) == before
    assert len(_audit(app)) == audits


def test_the_delays_rule_is_the_policy_s(app):
    assert policy.normalize_delays(" 1 ,24, 72 ") == "1,24,72"
    assert policy.normalize_delays("720") == "720"
    assert policy.normalize_delays("  ") == ""
    for bad in ("1,24,72,96", "721", "3,2", "0", "1,,2", "1;2"):
        with pytest.raises(policy.InvalidDelays):
            policy.normalize_delays(bad)


# -- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["manager", "support"])
@pytest.mark.parametrize("path", ["/admin/settings/bank", "/admin/settings/abandoned-carts"])
def test_only_admins_change_these_settings(app, role, path):
    client = app.test_client()
    login_staff(client, app, role)
    token = admin_csrf(client)

    assert client.get(path).status_code == 403
    response = client.post(path, data={**BANK, **RECOVERY, "csrf_token": token})

    assert response.status_code == 403
    assert _settings(app) == {}
    assert _audit(app) == []
