"""The bytes handed to SMTP (``shop.emails.wire``): read back by the standard library's strict
parser, 7-bit with short lines, no header injection, attachments and internationalized
names intact; an internationalized address goes out with SMTPUTF8 or fails cleanly."""

from __future__ import annotations

import smtplib
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from shop.clock import utcnow
from shop.emails import services as emails
from shop.emails import transport, wire
from shop.emails.models import EmailMessage, EmailStatus
from shop.extensions import db
from tests import services

SUBJECT = "Votre commande n° 1042 est expédiée\u202f!"
TEXT = (
    "Bonjour Éloïse,\n"
    ".\n"  # a lone dot: SMTP's end of data if it were not escaped
    "Ligne avec espaces en fin   \n"
    "Retour chariot seul\rpuis CRLF\r\n"
    + "Très longue ligne "
    + "é" * 300
    + "\nFrom the start of a line\n"
    "Total : 12,50\u00a0€"
)
HTML = '<p style="color:#333">Bonjour Éloïse,</p>' + "<p>" + "x" * 500 + "</p>"


def _parse(data: bytes):
    return message_from_bytes(data, policy=policy.default)


def _build(**overrides) -> bytes:
    fields = {
        "headers": [
            ("Subject", SUBJECT),
            ("From", wire.mailbox("Comptoir Café & Thé <boutique@comptoir.example.com>")),
            ("To", wire.mailbox("eloise@example.com")),
            ("Message-ID", "<order_shipped.7@comptoir.example.com>"),
            ("Content-Language", "fr"),
        ],
        "text": TEXT,
        "html": HTML,
    }
    return wire.build(**{**fields, **overrides})


def test_the_message_reads_back_exactly_and_is_seven_bit_with_short_lines():
    data = _build()

    assert data.isascii()
    lines = data.split(b"\r\n")
    assert max(len(line) for line in lines) <= 78
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert b"\r\n.\r\n" not in data  # the body's lone dot is encoded, not a bare line
    parsed = _parse(data)
    assert parsed["Subject"] == SUBJECT
    assert parsed["From"].addresses[0].display_name == "Comptoir Café & Thé"
    assert parsed["From"].addresses[0].addr_spec == "boutique@comptoir.example.com"
    assert parsed["To"] == "eloise@example.com"
    assert parsed["Message-ID"] == "<order_shipped.7@comptoir.example.com>"
    assert parsed["Content-Language"] == "fr"
    assert parsed["MIME-Version"] == "1.0"
    assert parsed.get_content_type() == "multipart/alternative"
    expected_text = TEXT.replace("\r\n", "\n").replace("\r", "\n") + "\n"
    text = parsed.get_body(("plain",)).get_content()
    assert text.replace("\r\n", "\n") == expected_text  # a reader sees the wire's CRLF
    assert parsed.get_body(("html",)).get_content() == HTML + "\r\n"
    assert parsed.defects == []
    assert all(part.defects == [] for part in parsed.walk())


def test_a_line_break_in_a_header_value_cannot_add_a_header():
    data = _build(
        headers=[
            ("Subject", "Bonjour\r\nBcc: attacker@example.net"),
            ("To", wire.mailbox("eloise@example.com\nBcc: attacker@example.net")),
        ]
    )

    parsed = _parse(data)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "Bonjour Bcc: attacker@example.net"
    assert b"\r\nBcc:" not in data


def test_attachments_follow_the_alternatives_in_a_mixed_message():
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 40
    data = _build(
        attachments=[
            ("F-2026-000001.pdf", "application/pdf", pdf),
            ("Avoir A-2026-000001 é.pdf", "application/pdf", b"%PDF-1.7 avoir"),
        ]
    )

    parsed = _parse(data)
    assert parsed.get_content_type() == "multipart/mixed"
    assert parsed.get_body(("plain",)).get_content().startswith("Bonjour Éloïse,")
    invoice, note = list(parsed.iter_attachments())
    assert invoice.get_filename() == "F-2026-000001.pdf"
    assert invoice.get_content_type() == "application/pdf"
    assert invoice.get_content() == pdf
    assert note.get_filename() == "Avoir A-2026-000001 é.pdf"
    assert note.get_content() == b"%PDF-1.7 avoir"
    assert data.isascii()


def test_each_message_gets_its_own_boundary():
    first, second = _parse(_build()), _parse(_build())

    assert first.get_boundary() != second.get_boundary()
    assert first.get_boundary().startswith("=_")


class _Recorder:
    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope.content)
        return "250 OK"


def _queued(app, to: str) -> int:
    with app.app_context():
        message = EmailMessage(
            kind="welcome",
            to_address=to,
            locale="fr",
            subject="Bienvenue",
            text_body="Bonjour",
            html_body="<p>Bonjour</p>",
            message_id=f"<wire.{to.encode().hex()}@comptoir.example.com>",
            created_at=utcnow(),
        )
        db.session.add(message)
        db.session.commit()
        return message.id


def test_an_internationalized_address_is_delivered_with_smtputf8(app, mailbox):
    email_id = _queued(app, "éloïse@exemple.fr")

    with app.app_context():
        assert emails.deliver(email_id) is True
        assert db.session.get(EmailMessage, email_id).status == EmailStatus.SENT

    [received] = mailbox.wait_for("éloïse@exemple.fr")
    assert received["Subject"] == "Bienvenue"


def test_an_internationalized_address_is_refused_by_a_server_without_smtputf8():
    recorder = _Recorder()
    port = services.free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    controller.start()
    try:
        outgoing = wire.Outgoing(
            sender="boutique@comptoir.example.com",
            recipient="éloïse@exemple.fr",
            message_id="<m.1@comptoir.example.com>",
            data=_build(headers=[("To", wire.mailbox("éloïse@exemple.fr")), ("Subject", "s")]),
        )
        smtp = transport.connect(transport.SmtpServer.from_url(f"smtp://127.0.0.1:{port}"))
        try:
            with pytest.raises(smtplib.SMTPNotSupportedError):
                transport.hand_over(smtp, outgoing)
            ascii_only = wire.Outgoing(
                outgoing.sender, "eloise@exemple.fr", outgoing.message_id, _build()
            )
            transport.hand_over(smtp, ascii_only)  # the session is still usable
        finally:
            smtp.quit()
    finally:
        controller.stop()

    assert len(recorder.received) == 1
    assert _parse(recorder.received[0])["To"] == "eloise@example.com"


def test_delivered_bytes_carry_the_store_sender_and_a_utc_date(app, mailbox):
    email_id = _queued(app, "client@example.com")

    with app.app_context():
        assert emails.deliver(email_id) is True

    [received] = mailbox.wait_for("client@example.com")
    assert received["From"].addresses[0].addr_spec == "boutique@comptoir.example.com"
    assert received["Date"].datetime.utcoffset().total_seconds() == 0
    assert received["Subject"] == "Bienvenue"


def test_long_list_headers_are_folded_after_their_commas():
    url = "https://comptoir.example.com/fr/compte/desinscription?token=" + "a" * 120
    data = _build(headers=[("List-Unsubscribe", f"<{url}>, <mailto:boutique@example.com>")])

    assert b"List-Unsubscribe: <https://" in data
    assert b">,\r\n <mailto:boutique@example.com>" in data
    assert _parse(data)["List-Unsubscribe"] == f"<{url}>, <mailto:boutique@example.com>"
