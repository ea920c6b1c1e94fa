"""Journeys in Debian's Chromium: register, log in, log out; language switcher; JS on and off."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

TEXT = {
    "fr": {
        "home": "/fr/",
        "create": "Créer un compte",
        "email": "Adresse e-mail",
        "password": "Mot de passe",
        "submit_register": "Créer mon compte",
        "created": "Votre compte a été créé. Bienvenue !",
        "account": "Mon compte",
        "logout": "Se déconnecter",
        "logged_out": "Vous êtes déconnecté.",
        "login": "Se connecter",
        "welcome_back": "Bon retour parmi nous !",
        "wrong": "Adresse e-mail ou mot de passe incorrect.",
    },
    "en": {
        "home": "/en/",
        "create": "Create an account",
        "email": "Email address",
        "password": "Password",
        "submit_register": "Create my account",
        "created": "Your account has been created. Welcome!",
        "account": "My account",
        "logout": "Log out",
        "logged_out": "You have been logged out.",
        "login": "Log in",
        "welcome_back": "Welcome back!",
        "wrong": "Incorrect email address or password.",
    },
}


EXPECTED_422 = "the server responded with a status of 422"


def _watch_console(page: Page) -> list[str]:
    """Console errors and page errors (CSP violations land here), less the form's own 422s."""
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(m.text) if m.type == "error" and EXPECTED_422 not in m.text else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def _journey(page: Page, base: str, lang: str, email: str) -> None:
    t = TEXT[lang]
    text = lambda s: s.replace("\u202f", " ").replace("\u00a0", " ")  # noqa: E731
    page.goto(base + t["home"])
    page.get_by_role("link", name=t["create"]).click()
    page.get_by_label(t["email"]).fill(email)
    page.get_by_label(t["password"]).fill("court")
    page.get_by_role("button", name=t["submit_register"]).click()
    # Weak password: the form comes back with the email kept and the password empty.
    expect(page.locator("#password-error")).to_be_visible()
    expect(page.get_by_label(t["email"])).to_have_value(email)
    expect(page.get_by_label(t["password"])).to_have_value("")
    page.get_by_label(t["password"]).fill(PASSWORD)
    page.get_by_role("button", name=t["submit_register"]).click()
    expect(page.locator(".flash")).to_have_text(
        re.compile(re.escape(text(t["created"])).replace(r"\ ", r"\s"))
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(t["account"])
    page.get_by_role("button", name=t["logout"]).click()
    expect(page.locator(".flash")).to_have_text(t["logged_out"])

    page.get_by_role("link", name=t["login"], exact=True).click()
    page.get_by_label(t["email"]).fill(email)
    page.get_by_label(t["password"]).fill("not the password")
    page.get_by_role("button", name=t["login"]).click()
    expect(page.locator(".form-errors")).to_have_text(t["wrong"])
    expect(page.get_by_label(t["email"])).to_have_value(email)
    page.get_by_label(t["password"]).fill(PASSWORD)
    page.get_by_role("button", name=t["login"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t["account"])
    expect(page).to_have_url(re.compile(r"/(compte|account)/$"))
    expect(page.locator("html")).to_have_attribute("lang", lang)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_register_login_logout_with_javascript(live, page: Page, lang):
    problems = _watch_console(page)
    _journey(page, live.url, lang, f"js.{lang}@example.com")
    assert page.evaluate("typeof window.htmx") == "object"
    assert problems == []


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_register_login_logout_without_javascript(live, browser: Browser, lang):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        _journey(page, live.url, lang, f"nojs.{lang}@example.com")
    finally:
        context.close()


def test_htmx_swaps_the_login_form_in_place(live, page: Page, make_user):
    make_user("swap@example.com")
    page.goto(live.url + "/en/account/login")
    page.evaluate("window.__marker = 'still here'")
    page.get_by_label("Email address").fill("swap@example.com")
    page.get_by_label("Password").fill("wrong password again")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".form-errors")).to_have_text("Incorrect email address or password.")
    # No full reload happened: the page's JavaScript state survived the swap.
    assert page.evaluate("window.__marker") == "still here"


def test_language_switcher_lands_on_the_same_page(live, page: Page):
    page.goto(live.url + "/fr/compte/connexion")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.get_by_role("navigation", name="Langue").get_by_role("link", name="English").click()
    expect(page).to_have_url(live.url + "/en/account/login")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    # The choice is remembered at the root.
    page.goto(live.url + "/")
    expect(page).to_have_url(live.url + "/en/")
    page.get_by_role("navigation", name="Language").get_by_role("link", name="Français").click()
    expect(page).to_have_url(live.url + "/fr/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bienvenue chez Comptoir")


def test_skip_link_and_visible_focus(live, page: Page):
    page.goto(live.url + "/fr/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Aller au contenu principal")
    expect(skip).to_be_focused()
    outline = skip.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline != "none"
    skip.press("Enter")
    expect(page.locator("main")).to_be_focused()
