"""The bank-transfer and abandoned-cart settings in Chromium: refused in place, then saved in
place by HTMX (no page load), with no console error under the strict CSP."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from shop.extensions import db
from shop.platform.models import PlatformConfig
from tests.test_admin_settings_browser import admin_page as admin_page  # the signed-in page
from tests.test_payments_browser import watch_console

pytestmark = pytest.mark.browser


def _stored(app, key: str) -> str | None:
    with app.app_context():
        row = db.session.get(PlatformConfig, key)
        return None if row is None else row.value


def test_bank_and_reminder_settings_save_in_place(app, live, admin_page):
    page = admin_page
    problems = watch_console(page)

    page.goto(live.url + "/admin/settings/bank")
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Titulaire du compte").fill("Comptoir SAS")
    page.get_by_label("IBAN").fill("FR76 3000 6000 0112 3456 7890 188")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#bank_iban-error")).to_contain_text("chiffres de contrôle")
    expect(page.get_by_label("Titulaire du compte")).to_have_value("Comptoir SAS")
    page.get_by_label("IBAN").fill("fr7630006000011234567890189")
    page.get_by_label("BIC (code SWIFT)").fill("agrifrpp")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#bank-form .settings-notice")).to_have_text("Paramètres enregistrés.")
    expect(page.get_by_label("IBAN")).to_have_value("FR76 3000 6000 0112 3456 7890 189")
    expect(page.locator("#bank-form")).to_contain_text("Virement proposé")
    assert page.evaluate("window.notReloaded") is True
    assert _stored(app, "bank_iban") == "FR7630006000011234567890189"

    page.goto(live.url + "/admin/settings/abandoned-carts")
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Relances (heures après la dernière visite)").fill("24, 1")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#cart_recovery_delays-error")).to_contain_text("ordre croissant")
    page.get_by_label("Relances (heures après la dernière visite)").fill("2, 48")
    page.get_by_label("Tout acheteur dont l’adresse est connue (intérêt légitime)").check()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#recovery-form .settings-notice")).to_have_text("Paramètres enregistrés.")
    expect(
        page.get_by_label("Tout acheteur dont l’adresse est connue (intérêt légitime)")
    ).to_be_checked()
    assert page.evaluate("window.notReloaded") is True
    assert _stored(app, "cart_recovery_delays") == "2,48"
    assert _stored(app, "cart_recovery_basis") == "legitimate_interest"

    # The refusals answered 422 on purpose; anything else (a CSP violation) is a failure.
    assert [p for p in problems if "status of 422" not in p] == []
