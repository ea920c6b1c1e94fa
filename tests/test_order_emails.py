"""Order emails through the outbox, the real worker process and a real SMTP server:
in the order's language, once per event however often it is dispatched, retried while
SMTP is down."""

from __future__ import annotations

import re
import subprocess
import time
from datetime import timedelta

import pytest

from shop import create_app, jobs, queue
from shop.checkout import services as checkout
from shop.clock import utcnow
from shop.emails import services as emails
from shop.emails.models import EmailMessage, EmailStatus
from shop.extensions import db
from shop.orders import services as orders
from shop.orders.models import Order
from shop.outbox.models import OutboxEvent, OutboxStatus
from shop.platform.services import set_setting
from tests import services
from tests.test_orders import _cart, _details, _variant_of

IBAN = "FR76 3000 6000 0112 3456 7890 189"


@pytest.fixture
def shop(app):
    from shop.checkout.defaults import load_defaults
    from tests import catalogue_factory

    with app.app_context():
        ids = catalogue_factory.build(4)
        load_defaults()
        db.session.commit()
        set_setting("bank_holder", "Comptoir SAS")
        set_setting("bank_iban", IBAN)
        set_setting("bank_bic", "AGRIFRPP")
    return ids


def _order(app, shop, email: str, locale: str = "fr", product: int = 2) -> tuple[int, str]:
    with app.app_context():
        cart_id = _cart(_variant_of(shop["products"][product]), 2)
        checkout.start_checkout(cart_id)
        details = _details(email)
        details.locale = locale
        order = checkout.place_order(cart_id, details)
        return order.id, order.number


def _event_id(app, type_: str, order_id: int) -> int:
    with app.app_context():
        events = db.session.execute(db.select(OutboxEvent).where(OutboxEvent.type == type_))
        return next(e.id for e in events.scalars() if e.payload["order_id"] == order_id)


def _text(message) -> str:
    return message.get_body(("plain",)).get_content()


def _html(message) -> str:
    return message.get_body(("html",)).get_content()


def test_french_bank_transfer_order_gets_its_instructions_then_a_payment_receipt(
    app, shop, mailbox, rq_worker
):
    order_id, number = _order(app, shop, "camille.virement@example.com")

    [confirmation] = mailbox.wait_for("camille.virement@example.com")
    event_id = _event_id(app, "order_placed", order_id)
    assert confirmation["Message-ID"] == f"<order_placed.{event_id}@comptoir.example.com>"
    assert confirmation["Content-Language"] == "fr"
    assert number in confirmation["Subject"]
    text = _text(confirmation)
    assert "Merci\u202f! Votre commande est enregistrée." in text
    assert f"Numéro de commande\u00a0: {number}" in text
    assert "Comment payer par virement" in text
    assert f"en indiquant la référence {number}." in text
    assert f"IBAN — {IBAN}" in text and "BIC — AGRIFRPP" in text
    assert "Titulaire du compte — Comptoir SAS" in text
    assert "2 × " in text  # the line, its quantity
    assert "TVA" in text  # the tax component, apart
    assert "12 rue des Lilas" in text and "75011 Paris" in text
    assert "http://127.0.0.1:5000/fr/commande/confirmation/" in text
    html = _html(confirmation)
    assert f"{IBAN}" in html and 'style="' in html and "<style" not in html
    assert '<html lang="fr">' in html

    with app.app_context():
        assert orders.mark_paid(order_id, provider="bank_transfer") is True
    paid = mailbox.wait_for("camille.virement@example.com", count=2)[1]
    paid_event = _event_id(app, "order_paid", order_id)
    assert paid["Message-ID"] == f"<order_paid.{paid_event}@comptoir.example.com>"
    assert number in paid["Subject"]
    assert "Merci\u202f! Votre commande est payée." in _text(paid)
    assert "Comment payer par virement" not in _text(paid)
    # The receipt carries the invoice, issued and rendered when the mail was sent.
    [invoice] = list(paid.iter_attachments())
    assert invoice.get_content_type() == "application/pdf"
    assert re.fullmatch(r"F-\d{4}-\d{6}\.pdf", invoice.get_filename())
    pdf_text = subprocess.run(
        ["pdftotext", "-", "-"], input=invoice.get_content(), capture_output=True, check=True
    ).stdout.decode()
    assert number in pdf_text and invoice.get_filename()[:-4] in pdf_text

    # The worker records SENT just after the SMTP server has accepted the message.
    with app.app_context():
        deadline = time.monotonic() + 10
        while True:
            sent = db.session.execute(db.select(EmailMessage).order_by(EmailMessage.id)).scalars()
            sent = [(m.kind, m.status, m.attempts) for m in sent]
            if all(status == "sent" for _, status, _ in sent) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
            db.session.remove()
        assert sent == [
            ("order_confirmation", "sent", 1),
            ("payment_received", "sent", 1),
        ]


def test_english_order_gets_english_mail(app, shop, mailbox, rq_worker):
    _, number = _order(app, shop, "sam.transfer@example.com", locale="en")
    [message] = mailbox.wait_for("sam.transfer@example.com")
    assert message["Subject"] == f"Your order {number} at Comptoir"
    assert message["Content-Language"] == "en"
    text = _text(message)
    assert "Thank you! Your order is registered." in text
    assert "Please transfer €" in text and f"quoting the reference {number}." in text
    assert "http://127.0.0.1:5000/en/checkout/confirmation/" in text
    assert '<html lang="en">' in _html(message)


def test_cancellation_and_refund_mails(app, shop, mailbox, rq_worker):
    cancelled_id, cancelled_number = _order(app, shop, "annule@example.com", locale="en")
    paid_id, paid_number = _order(app, shop, "rembourse@example.com", locale="en", product=3)
    with app.app_context():
        orders.cancel(cancelled_id, reason="customer asked")
        assert orders.mark_paid(paid_id, provider="bank_transfer") is True
        orders.refund(paid_id, 1000, reason="damaged")

    cancellation = mailbox.wait_for("annule@example.com", count=2)[1]
    assert cancellation["Subject"] == f"Order {cancelled_number} cancelled"
    assert "has been cancelled" in _text(cancellation)
    received = mailbox.wait_for("rembourse@example.com", count=3)
    [refund] = [m for m in received if m["Message-ID"].startswith("<order_refunded.")]
    assert refund["Subject"] == f"Refund for order {paid_number}"
    assert f"We have refunded €10.00 on your order {paid_number}." in _text(refund)
    # The refund mail carries its credit note, which names the invoice it credits.
    [receipt] = [m for m in received if m["Message-ID"].startswith("<order_paid.")]
    invoice_number = next(receipt.iter_attachments()).get_filename()[:-4]
    [note] = list(refund.iter_attachments())
    assert note.get_content_type() == "application/pdf"
    assert re.fullmatch(r"AV-\d{4}-\d{6}\.pdf", note.get_filename())
    pdf_text = subprocess.run(
        ["pdftotext", "-", "-"], input=note.get_content(), capture_output=True, check=True
    ).stdout.decode()
    assert "Credit note" in pdf_text and note.get_filename()[:-4] in pdf_text
    assert f"Credits invoice {invoice_number}" in pdf_text
    assert "Partial refund" in pdf_text and "€10.00" in pdf_text


def test_dispatching_an_event_again_sends_no_second_mail(app, shop, mailbox, rq_worker):
    order_id, _ = _order(app, shop, "twice@example.com")
    [first] = mailbox.wait_for("twice@example.com")
    event_id = _event_id(app, "order_placed", order_id)

    # As if the worker had died after queueing the mail but before recording DONE: the event
    # is pending again, and both the job and the sweep deliver it once more.
    with app.app_context():
        db.session.execute(
            db.update(OutboxEvent)
            .where(OutboxEvent.id == event_id)
            .values(status=OutboxStatus.PENDING, next_retry_at=utcnow())
        )
        db.session.commit()
        queue.enqueue(jobs.dispatch_outbox_event, event_id)
        deadline = time.monotonic() + 20
        while db.session.get(OutboxEvent, event_id).status != OutboxStatus.DONE:
            assert time.monotonic() < deadline
            time.sleep(0.1)
            db.session.remove()
        assert jobs.sweep_outbox()["events"] == 0
        assert jobs.dispatch_outbox_event(event_id) is False
    time.sleep(1)
    same = [
        m for m in mailbox.messages("twice@example.com") if m["Message-ID"] == first["Message-ID"]
    ]
    assert len(same) == 1
    with app.app_context():
        assert (
            db.session.execute(db.select(db.func.count()).select_from(EmailMessage)).scalar() == 1
        )


# -- SMTP down ------------------------------------------------------------------------------


def test_smtp_down_retries_with_backoff_then_delivers_once(app, test_env, tmp_path, smtp, mailbox):
    closed = services.free_port()
    own_app = create_app(
        {
            **test_env,
            "REDIS_URL": "",  # the in-process runner: the delivery job runs here
            "SMTP_URL": f"smtp://127.0.0.1:{closed}",
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    try:
        with own_app.app_context():
            email_id = emails.queue_email("welcome", "smtp.down@example.com", "fr").id
            db.session.commit()
            queue.wait_for_inprocess_jobs(own_app)
            message = db.session.get(EmailMessage, email_id)
            assert (message.status, message.attempts) == (EmailStatus.PENDING, 1)
            assert message.last_error.startswith("ConnectionRefusedError")
            created = message.created_at
            db.session.remove()

            # Not yet due: 2 min of grace, then 30 s after the first failure.
            almost = created + emails.RETRY_GRACE + timedelta(seconds=29)
            assert emails.retry_due(now=almost) == 0
            assert emails.retry_due(now=almost + timedelta(seconds=2)) == 0  # tried, failed
            assert db.session.get(EmailMessage, email_id).attempts == 2
            db.session.remove()
            # The second wait is 60 s more (90 s after the grace in all).
            later = created + emails.RETRY_GRACE + timedelta(seconds=89)
            assert emails.retry_due(now=later) == 0
            assert db.session.get(EmailMessage, email_id).attempts == 2
            db.session.remove()

            own_app.config["SMTP_URL"] = smtp.url  # SMTP is back
            assert emails.retry_due(now=later + timedelta(seconds=2)) == 1
            assert emails.retry_due(now=later + timedelta(hours=5)) == 0
            message = db.session.get(EmailMessage, email_id)
            assert (message.status, message.attempts, message.last_error) == ("sent", 3, None)
            message_id = message.message_id
        [delivered] = mailbox.wait_for("smtp.down@example.com")
        assert delivered["Message-ID"].strip() == message_id  # long ids are folded
    finally:
        from shop.extensions import limiter

        limiter._storage, limiter._limiter = app.extensions["test_limiter_state"]
        with own_app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_email_gives_up_after_the_maximum_attempts(app, test_env, tmp_path):
    closed = services.free_port()
    own_app = create_app(
        {
            **test_env,
            "REDIS_URL": "",
            "SMTP_URL": f"smtp://127.0.0.1:{closed}",
            "INSTANCE_PATH": str(tmp_path),
            "EMAIL_MAX_ATTEMPTS": 2,
        }
    )
    try:
        with own_app.app_context():
            email_id = emails.queue_email("welcome", "never@example.com", "en").id
            db.session.commit()
            queue.wait_for_inprocess_jobs(own_app)
            assert emails.retry_due(now=utcnow() + timedelta(days=1)) == 0
            message = db.session.get(EmailMessage, email_id)
            assert (message.status, message.attempts) == (EmailStatus.FAILED, 2)
            assert emails.retry_due(now=utcnow() + timedelta(days=2)) == 0
            assert db.session.get(EmailMessage, email_id).attempts == 2
    finally:
        from shop.extensions import limiter

        limiter._storage, limiter._limiter = app.extensions["test_limiter_state"]
        with own_app.app_context():
            db.session.remove()
            db.engine.dispose()


# -- headers --------------------------------------------------------------------------------


def test_marketing_mails_carry_list_unsubscribe_and_others_do_not(app):
    with app.app_context():

        def mime(kind: str):
            message = EmailMessage(
                kind=kind,
                to_address="Client@Example.com",
                locale="fr",
                subject="s",
                text_body="t",
                html_body="<p>h</p>",
                message_id="<m@comptoir.example.com>",
                created_at=utcnow(),
            )
            return emails.to_mime(message)

        marketing = mime("cart_recovery")
        one_click, mailto = marketing["List-Unsubscribe"].split(", ")
        page = "<http://127.0.0.1:5000/fr/compte/desinscription?token="
        assert one_click.startswith(page) and one_click.endswith(">")
        token = one_click[len(page) : -1]
        assert mailto == "<mailto:boutique@comptoir.example.com?subject=unsubscribe>"
        assert marketing["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert mime("order_confirmation")["List-Unsubscribe"] is None
        assert emails.address_for_unsubscribe_token(token) == "client@example.com"
        assert emails.address_for_unsubscribe_token(token + "x") is None


def test_attachments_are_added_at_send_time(app):
    with app.app_context():
        message = EmailMessage(
            kind="payment_received",
            to_address="a@example.com",
            locale="fr",
            subject="s",
            text_body="t",
            html_body="<p>h</p>",
            message_id="<order_paid.1@comptoir.example.com>",
            created_at=utcnow(),
        )
        assert message.invoice_id is None
        assert emails.attachments_for(message) == []  # it names no document
        pdf = emails.Attachment("F-2026-000001.pdf", "application/pdf", b"%PDF-1.7 test")
        mime = emails.to_mime(message, [pdf])
        [part] = list(mime.iter_attachments())
        assert part.get_filename() == "F-2026-000001.pdf"
        assert part.get_content_type() == "application/pdf"
        assert part.get_content() == b"%PDF-1.7 test"


# -- documents: issued by the handler, rendered once by a job, attached from storage ---------


def test_a_paid_order_renders_its_invoice_once_for_the_mail_the_page_and_a_resend(
    app, shop, test_env, tmp_path, smtp, mailbox, monkeypatch
):
    from shop.backoffice.resend import queue_resend
    from shop.invoices import pdf
    from shop.invoices.models import Invoice

    renders: list[str] = []
    render_bytes = pdf.render_bytes

    def counted(data, kind, locale):
        renders.append(data["number"])
        return render_bytes(data, kind, locale)

    monkeypatch.setattr(pdf, "render_bytes", counted)
    own_app = create_app(
        {
            **test_env,
            "REDIS_URL": "",  # the in-process runner: every job runs in this process
            "SMTP_URL": smtp.url,
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    try:
        order_id, number = _order(own_app, shop, "une.facture@example.com")
        with own_app.app_context():
            queue.wait_for_inprocess_jobs(own_app)
            assert orders.mark_paid(order_id, provider="bank_transfer") is True
            queue.wait_for_inprocess_jobs(own_app)
            invoice = db.session.execute(db.select(Invoice)).scalar_one()
            token = orders.access_token(db.session.get(Order, order_id))
            assert invoice.pdf_path is not None
            stored = (pdf.invoices_root() / invoice.pdf_path).read_bytes()
            paid = db.session.execute(
                db.select(EmailMessage).where(EmailMessage.kind == "payment_received")
            ).scalar_one()
            assert (paid.invoice_id, paid.status) == (invoice.id, EmailStatus.SENT)
        [_, receipt] = mailbox.wait_for("une.facture@example.com", count=2)
        [attached] = list(receipt.iter_attachments())
        assert attached.get_content() == stored  # the stored file, not a second rendering

        client = own_app.test_client()
        with client.get(f"/fr/commande/{token}/facture/{invoice.id}.pdf") as download:
            assert download.status_code == 200
            assert download.data == stored
        with own_app.app_context():
            queue_resend(order_id, "payment_received")
            db.session.commit()
            queue.wait_for_inprocess_jobs(own_app)
        again = mailbox.wait_for("une.facture@example.com", count=3)[2]
        assert next(again.iter_attachments()).get_content() == stored
        assert renders == [invoice.full_number]  # one PDF rendered for the paid order
        assert (
            number
            in subprocess.run(
                ["pdftotext", "-", "-"], input=stored, capture_output=True, check=True
            ).stdout.decode()
        )
    finally:
        from shop.extensions import limiter

        limiter._storage, limiter._limiter = app.extensions["test_limiter_state"]
        with own_app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_the_receipt_waits_for_its_invoice_pdf(app, shop):
    from shop.emails import batch
    from shop.invoices import pdf
    from tests.outbox_support import deliver_outbox

    order_id, _ = _order(app, shop, "attend@example.com")
    with app.app_context():
        assert orders.mark_paid(order_id, provider="bank_transfer") is True
    deliver_outbox(app, render=False)  # the handler issued the invoice; no job ran since
    with app.app_context():
        paid = db.session.execute(
            db.select(EmailMessage).where(EmailMessage.kind == "payment_received")
        ).scalar_one()
        assert paid.invoice_id is not None
        assert emails.attachments_for(paid) is None
        db.session.rollback()
        assert emails.deliver(paid.id) is False  # not sent without its document
        assert batch.deliver_pending(seconds=5)[0] == 1  # the order confirmation only
        assert emails.retry_due(now=utcnow() + timedelta(hours=1)) == 0
        paid = db.session.get(EmailMessage, paid.id)
        assert (paid.status, paid.attempts) == (EmailStatus.PENDING, 0)
        db.session.rollback()

        assert pdf.render_pending() == 1  # the job the handler deferred
        assert emails.deliver(paid.id) is True
        [attached] = emails.attachments_for(db.session.get(EmailMessage, paid.id))
        assert attached.filename.startswith("F-") and attached.data.startswith(b"%PDF")
