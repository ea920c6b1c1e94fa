"""Languages: negotiation at /, localized URLs, the switcher, and a complete French catalogue."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "translations" / "fr" / "LC_MESSAGES" / "messages.po"


@pytest.mark.parametrize(
    ("headers", "cookie", "expected"),
    [
        ({}, None, "/fr/"),
        ({"Accept-Language": "en-GB,en;q=0.9"}, None, "/en/"),
        ({"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.8"}, None, "/fr/"),
        ({"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}, None, "/en/"),
        ({"Accept-Language": "de-DE,es;q=0.9"}, None, "/fr/"),
        ({"Accept-Language": "en-US"}, "fr", "/fr/"),
        ({"Accept-Language": "fr-FR"}, "en", "/en/"),
        ({}, "xx", "/fr/"),
    ],
)
def test_root_negotiates_language_cookie_first(client, headers, cookie, expected):
    if cookie:
        client.set_cookie("lang", cookie)
    response = client.get("/", headers=headers)
    assert response.status_code == 302
    assert response.headers["Location"] == expected
    assert "Accept-Language" in response.headers["Vary"]


@pytest.mark.parametrize(
    ("path", "lang", "title"),
    [
        ("/fr/", "fr", "Bienvenue chez Comptoir"),
        ("/en/", "en", "Welcome to Comptoir"),
        ("/fr/compte/connexion", "fr", "Se connecter"),
        ("/en/account/login", "en", "Log in"),
        ("/fr/compte/inscription", "fr", "Créer un compte"),
        ("/en/account/register", "en", "Create an account"),
    ],
)
def test_pages_render_in_their_language(client, path, lang, title):
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<html lang="{lang}">' in html
    assert title in html


@pytest.mark.parametrize(
    ("path", "twin", "twin_lang"),
    [
        ("/fr/", "/en/", "en"),
        ("/en/", "/fr/", "fr"),
        ("/fr/compte/connexion", "/en/account/login", "en"),
        ("/en/account/register", "/fr/compte/inscription", "fr"),
        ("/fr/compte/mot-de-passe-oublie", "/en/account/forgot-password", "en"),
    ],
)
def test_switcher_and_hreflang_point_at_the_same_page_in_the_other_language(
    client, path, twin, twin_lang
):
    html = client.get(path).get_data(as_text=True)
    switcher = html.split('class="language-switcher"', 1)[1].split("</nav>", 1)[0]
    assert f'<a href="{twin}" hreflang="{twin_lang}"' in switcher
    assert (
        f'<link rel="alternate" hreflang="{twin_lang}" href="http://127.0.0.1:5000{twin}">' in html
    )
    assert f'<link rel="canonical" href="http://127.0.0.1:5000{path}">' in html


def test_switcher_keeps_the_query_string(client):
    html = client.get("/fr/compte/connexion?next=/fr/compte/").get_data(as_text=True)
    assert 'href="/en/account/login?next=/fr/compte/"' in html


def test_visiting_a_language_remembers_it_for_the_root(client):
    client.get("/en/")
    response = client.get("/", headers={"Accept-Language": "fr-FR"})
    assert response.headers["Location"] == "/en/"


@pytest.mark.parametrize(
    ("path", "lang", "text"),
    [
        ("/fr/page-inconnue", "fr", "Page introuvable"),
        ("/en/unknown-page", "en", "Page not found"),
        ("/en/compte/connexion", "en", "Page not found"),
    ],
)
def test_unknown_pages_get_a_translated_404(client, path, lang, text):
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert f'<html lang="{lang}">' in html
    assert text in html
    assert '<meta name="robots" content="noindex">' in html


def test_404_outside_a_language_prefix_follows_accept_language(client):
    response = client.get("/nowhere", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_prices_and_dates_follow_the_locale(app):
    from datetime import date

    from flask_babel import force_locale, format_date

    from shop.web.templating import money

    with app.test_request_context():
        with force_locale("fr"):
            assert money(1250) == "12,50\u00a0€"
            assert format_date(date(2026, 11, 22), "long") == "22 novembre 2026"
        with force_locale("en"):
            assert money(1250) == "€12.50"
            assert format_date(date(2026, 11, 22), "long") == "November 22, 2026"


# -- the French catalogue --------------------------------------------------------------


def _catalogue():
    with PO.open("rb") as handle:
        return read_po(handle)


def test_every_ui_string_has_a_french_translation():
    catalogue = _catalogue()
    empty = [
        m.id
        for m in catalogue
        if m.id and not (m.string if isinstance(m.string, str) else all(m.string))
    ]
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert empty == [], f"untranslated: {empty}"
    assert fuzzy == [], f"fuzzy: {fuzzy}"


def test_catalogue_covers_every_string_in_the_code():
    method_map = [
        ("shop/**.py", "python"),
        ("templates/**.html", "jinja2"),
        ("templates/**.txt", "jinja2"),
    ]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    in_code = {
        (message if isinstance(message, str) else message[0])
        for _, _, message, *_ in extract_from_dir(
            str(ROOT), method_map=method_map, keywords=keywords
        )
    }
    translated = {m.id if isinstance(m.id, str) else m.id[0] for m in _catalogue() if m.id}
    missing = sorted(in_code - translated)
    assert missing == [], f"run `make translations` and translate: {missing}"


def test_french_typography_uses_non_breaking_spaces():
    bad = []
    for message in _catalogue():
        if not message.id:
            continue
        for text in [message.string] if isinstance(message.string, str) else message.string:
            if re.search(r" [:;!?»]|« ", text):
                bad.append(text)
    assert bad == [], f"use U+00A0/U+202F before : ; ! ? »: {bad}"


def test_compiled_catalogue_is_what_the_app_uses(app):
    from flask_babel import force_locale, gettext

    with app.test_request_context(), force_locale("fr"):
        assert gettext("Forgot your password?") == "Mot de passe oublié\u202f?"


def test_po_file_parses_cleanly():
    data = PO.read_bytes()
    assert read_po(BytesIO(data)).locale.language == "fr"
