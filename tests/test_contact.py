"""The contact page: a form that mails the shop through the outbox (honeypot, rate limit,
CSRF), and the footer that links to it on every page."""

from __future__ import annotations

from flask import Flask

from shop.emails.models import EmailMessage
from shop.extensions import db
from shop.outbox.models import OutboxEvent
from tests.conftest import csrf_token
from tests.outbox_support import deliver_outbox

SHOP_ADDRESS = "boutique@comptoir.example.com"  # MAIL_FROM of the test environment
MESSAGE = {
    "name": "Camille Martin",
    "email": "camille@example.com",
    "subject": "Une question\r\nBcc: spam@example.com",
    "message": "Bonjour,\nla chaise en chêne existe-t-elle en noyer ?\nMerci",
}


def _post(client, data: dict, path: str = "/fr/contact", token: bool = True):
    if token:
        data = {**data, "csrf_token": csrf_token(client, path)}
    return client.post(path, data=data)


def _mails(app: Flask) -> list[EmailMessage]:
    with app.app_context():
        return list(db.session.scalars(db.select(EmailMessage).order_by(EmailMessage.id)))


def _events(app: Flask) -> int:
    with app.app_context():
        return len(db.session.scalars(db.select(OutboxEvent)).all())


def test_the_page_exists_in_both_languages(client):
    fr = client.get("/fr/contact")
    en = client.get("/en/contact")
    assert fr.status_code == en.status_code == 200
    fr_html, en_html = fr.get_data(as_text=True), en.get_data(as_text=True)
    assert "Nous contacter" in fr_html and 'name="website"' in fr_html
    assert "Contact us" in en_html and "Send the message" in en_html
    assert 'hreflang="en" href="http://127.0.0.1:5000/en/contact"' in fr_html


def test_a_message_is_mailed_once_to_the_shop_with_the_senders_address(app, client):
    response = _post(client, MESSAGE)
    assert response.status_code == 200
    assert "votre message a bien été envoyé" in response.get_data(as_text=True)
    deliver_outbox(app)
    deliver_outbox(app)  # a second run queues nothing more
    [mail] = _mails(app)
    assert mail.kind == "contact_message"
    assert mail.to_address == SHOP_ADDRESS
    assert mail.subject == "Formulaire de contact\u00a0: Une question Bcc: spam@example.com"
    assert "la chaise en chêne existe-t-elle en noyer ?" in mail.text_body
    assert "Camille Martin <camille@example.com>" in mail.text_body
    assert "écrivez à camille@example.com" in mail.text_body
    assert "mailto:camille@example.com" in mail.html_body


def test_the_store_identitys_contact_email_receives_the_messages(app, client):
    from shop.platform.services import set_setting

    with app.app_context():
        set_setting("legal_email", "contact@comptoir.example.com")
    assert _post(client, MESSAGE, "/en/contact").status_code == 200
    deliver_outbox(app)
    [mail] = _mails(app)
    assert mail.to_address == "contact@comptoir.example.com"
    assert "Language: en" not in mail.text_body  # the shop reads it in French
    assert "Langue\u00a0: en" in mail.text_body


def test_a_filled_honeypot_gets_the_same_answer_and_sends_nothing(app, client):
    response = _post(client, {**MESSAGE, "website": "http://spam.example.com"})
    assert response.status_code == 200
    assert "votre message a bien été envoyé" in response.get_data(as_text=True)
    deliver_outbox(app)
    assert _events(app) == 0
    assert _mails(app) == []


def test_the_form_is_rate_limited(app, client):
    for _ in range(3):
        assert _post(client, MESSAGE).status_code == 200
    refused = _post(client, MESSAGE)
    assert refused.status_code == 429
    deliver_outbox(app)
    assert _events(app) == 3
    assert len(_mails(app)) == 3


def test_an_invalid_address_keeps_the_form_with_a_translated_error(app, client):
    response = _post(client, {**MESSAGE, "email": "camille at example"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Saisissez une adresse e-mail valide" in html
    assert 'value="Camille Martin"' in html
    assert "existe-t-elle en noyer" in html
    english = _post(client, {**MESSAGE, "email": "nope", "message": ""}, "/en/contact")
    assert english.status_code == 422
    assert "Please write your message." in english.get_data(as_text=True)
    assert _events(app) == 0


def test_a_post_without_csrf_token_is_refused_with_the_form_kept(app, client):
    response = _post(client, MESSAGE, token=False)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'value="Camille Martin"' in html
    assert _events(app) == 0


def test_htmx_gets_the_form_fragment(client):
    token = csrf_token(client, "/fr/contact")
    response = client.post(
        "/fr/contact",
        data={**MESSAGE, "email": "x", "csrf_token": token},
        headers={"HX-Request": "true", "HX-Target": "contact-form"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<form id="contact-form"') and "<footer" not in html


def test_the_footer_links_to_the_contact_page_and_names_the_payment_methods(app, client):
    from shop import page_cache
    from shop.platform.bank import DEMO, load_demo_bank_details
    from shop.platform.services import update_settings

    html = client.get("/fr/").get_data(as_text=True)
    assert '<a href="/fr/contact">Écrivez-nous</a>' in html
    assert "Mentions légales" in html and "Livraison et retours" in html
    assert "Carte bancaire" in html  # Stripe is configured in the test environment
    assert "Virement bancaire" not in html.split("<footer", 1)[1]
    with app.app_context():
        load_demo_bank_details()
        update_settings(
            {"legal_name": "Comptoir SAS", "rcs": "RCS Paris 732 829 320", "legal_form": "SAS"}
        )
        page_cache.catalogue_changed()
    footer = client.get("/en/").get_data(as_text=True).split("<footer", 1)[1]
    assert '<a href="/en/contact">Write to us</a>' in footer
    assert "Bank card" in footer and "Bank transfer" in footer
    assert "RCS Paris 732 829 320" in footer and "Comptoir SAS" in footer
    assert DEMO["bank_iban"] not in footer
