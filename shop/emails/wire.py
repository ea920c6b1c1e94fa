"""A queued email as the bytes handed to SMTP (RFC 5322 + MIME), written directly.

The standard library's ``EmailMessage`` parses and re-folds every header through its header
registry, then ``smtplib.send_message`` flattens the whole tree again: about 4 ms of CPU for
one of our mails, most of what the worker spent per message. Our mails have one fixed shape,
so this module writes it in about 0.15 ms:

    multipart/mixed                       (only with attachments)
      multipart/alternative
        text/plain; charset=utf-8         quoted-printable
        text/html; charset=utf-8          quoted-printable
      application/pdf ...                 base64, one part per attachment

Quoted-printable keeps every line under 76 characters and the message 7-bit, so it passes
any relay without 8BITMIME (only an internationalized address is written as UTF-8, and
is sent with SMTPUTF8). Non-ASCII header text (a French subject, an accented shop name)
is RFC 2047-encoded, non-ASCII file names RFC 2231-encoded. Line breaks in header values
are flattened to spaces: a subject rendered from a template can never inject a header.
Boundaries start with ``=_``, which neither quoted-printable nor base64 output can contain.

The tests read these bytes back with the standard library's strict parser
(``policy.default``), which is how ``services.to_mime`` returns them.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.header import Header
from email.utils import encode_rfc2231, formataddr, parseaddr

_CRLF = b"\r\n"


@dataclass(frozen=True)
class Outgoing:
    """What the transport needs: the SMTP envelope and the message's bytes."""

    sender: str  # envelope MAIL FROM (bare address)
    recipient: str  # envelope RCPT TO (bare address)
    message_id: str
    data: bytes  # CRLF line ends; 7-bit unless an address is internationalized

    @property
    def needs_smtputf8(self) -> bool:
        return not (self.sender.isascii() and self.recipient.isascii())


class Mailbox(str):
    """A header value already written by :func:`mailbox`: not encoded again."""


def header_line(name: str, value: str) -> str:
    """``Name: value`` on one logical line, folded under 78 characters where it can be:
    RFC 2047 encoded words when the value is not plain ASCII, a break after each comma of
    a long list (``List-Unsubscribe``)."""
    if "\n" in value or "\r" in value:
        value = type(value)(" ".join(value.split()))
    if not (value.isascii() or isinstance(value, Mailbox)):
        return f"{name}: {Header(value, 'utf-8', header_name=name).encode()}"
    line = f"{name}: {value}"
    if len(line) > 78 and ", " in value:
        line = line.replace(", ", ",\n ")
    return line


def mailbox(value: str) -> Mailbox:
    """``Name <address>`` with the name quoted or encoded as it needs. The address stays as
    it is: an internationalized one (``élodie@exemple.fr``) cannot be encoded in a header,
    it needs a server that offers SMTPUTF8 (see ``transport.hand_over``)."""
    name, address = parseaddr(" ".join(value.split()))
    return Mailbox(formataddr((name, address), charset="utf-8") if name else address)


def _qp(text: str) -> bytes:
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    if not body.endswith("\n"):
        body += "\n"
    return binascii.b2a_qp(body.encode("utf-8"), istext=True)


def _text_part(subtype: str, text: str) -> bytes:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\n'
        "Content-Transfer-Encoding: quoted-printable\n\n"
    ).encode() + _qp(text)


def _file_name(name: str) -> str:
    if name.isascii() and '"' not in name and "\\" not in name:
        return f'filename="{name}"'
    return f"filename*={encode_rfc2231(name, 'utf-8')}"


def _attachment_part(filename: str, content_type: str, data: bytes) -> bytes:
    name = _file_name(" ".join(filename.split()))
    return (
        f"Content-Type: {content_type}\n"
        "Content-Transfer-Encoding: base64\n"
        f"Content-Disposition: attachment; {name}\n\n"
    ).encode() + base64.encodebytes(data)


def _multipart(subtype: str, parts: Sequence[bytes]) -> tuple[str, bytes]:
    """(Content-Type header value, body) of a multipart made of ``parts``."""
    boundary = "=_" + secrets.token_hex(12)
    delimiter = f"--{boundary}\n".encode()
    body = b"".join(delimiter + part + b"\n" for part in parts) + f"--{boundary}--\n".encode()
    return f'multipart/{subtype}; boundary="{boundary}"', body


def build(
    *,
    headers: Iterable[tuple[str, str]],
    text: str,
    html: str,
    attachments: Iterable[tuple[str, str, bytes]] = (),
) -> bytes:
    """The message's bytes: ``headers`` (already in order, values unencoded), then the text
    and HTML alternatives, then the attachments as (file name, content type, data)."""
    content_type, body = _multipart(
        "alternative", [_text_part("plain", text), _text_part("html", html)]
    )
    files = [_attachment_part(*attachment) for attachment in attachments]
    if files:
        inner = f"Content-Type: {content_type}\n\n".encode() + body
        content_type, body = _multipart("mixed", [inner, *files])
    lines = [header_line(name, value) for name, value in headers]
    lines += ["MIME-Version: 1.0", f"Content-Type: {content_type}"]
    head = ("\n".join(lines) + "\n\n").encode("utf-8")
    return (head + body).replace(b"\n", _CRLF)
