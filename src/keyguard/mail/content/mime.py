"""A small, fast MIME composer for the messages we accept (the stdlib one costs ~1 ms each).

It writes only what it validated: header values have no CR/LF (callers check with
`addresses.reject_injection`), non-ASCII text goes into RFC 2047 encoded words, bodies are
7bit when they can be and quoted-printable otherwise, attachments are base64. Lines end in
CRLF and never exceed 998 octets.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Final
from urllib.parse import quote

from keyguard.mail.addresses import Address

CRLF: Final = "\r\n"
_SPECIALS: Final = re.compile(r'[()<>\[\]:;@\\,."]')
_ENCODED_CHUNK: Final = 45  # bytes per encoded word: base64 of 45 bytes + markers < 76 chars


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Composition:
    """Everything that goes into the message's headers and body, already validated."""

    sender: Address
    to: Sequence[Address]
    cc: Sequence[Address]
    subject: str
    text: str | None
    html: str | None
    message_id: str
    date: datetime
    reply_to: Address | None = None
    headers: Sequence[tuple[str, str]] = ()
    attachments: Sequence[Attachment] = ()


def compose(message: Composition) -> bytes:
    """The complete RFC 5322 message, CRLF line endings."""
    lines = [
        header("From", format_address(message.sender)),
        *([header("To", format_addresses(message.to))] if message.to else []),
        *([header("Cc", format_addresses(message.cc))] if message.cc else []),
        *([header("Reply-To", format_address(message.reply_to))] if message.reply_to else []),
        header("Subject", message.subject),
        header("Date", _date(message.date, message.date.utcoffset())),
        header("Message-ID", message.message_id),
        "MIME-Version: 1.0",
        *(header(name, value) for name, value in message.headers),
    ]
    body_headers, body = _body(message)
    if not body.endswith(CRLF):
        body += CRLF  # SMTP DATA ends on a line break anyway; store what will be sent
    return (CRLF.join(lines + body_headers) + CRLF + CRLF + body).encode("ascii")


def header(name: str, value: str) -> str:
    """`Name: value`, with RFC 2047 words when the value is not plain, short ASCII."""
    if value.isascii() and len(name) + 2 + len(value) <= 998 and value.isprintable():
        return f"{name}: {value}"
    return f"{name}: {encode_words(value)}"


def encode_words(value: str) -> str:
    """RFC 2047 base64 encoded words, split on UTF-8 character boundaries, folded."""
    data = value.encode("utf-8")
    words, start = [], 0
    while start < len(data):
        end = min(start + _ENCODED_CHUNK, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1  # do not cut a multi-byte character in half
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:end]).decode('ascii')}?=")
        start = end
    return (CRLF + " ").join(words)


def format_address(address: Address) -> str:
    if not address.name:
        return address.addr
    name = address.name
    if not name.isascii():
        return f"{encode_words(name)} <{address.addr}>"
    if _SPECIALS.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address.addr}>"


def format_addresses(addresses: Sequence[Address]) -> str:
    return ("," + CRLF + " ").join(format_address(a) for a in addresses)


def _body(message: Composition) -> tuple[list[str], str]:
    parts = []
    if message.text is not None:
        parts.append(_text_part("plain", message.text))
    if message.html is not None:
        parts.append(_text_part("html", message.html))
    headers, body = parts[0] if len(parts) == 1 else _multipart("alternative", parts)
    if not message.attachments:
        return headers, body
    attachments = [_attachment_part(a) for a in message.attachments]
    return _multipart("mixed", [(headers, body), *attachments])


def _text_part(subtype: str, text: str) -> tuple[list[str], str]:
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    data = normalized.encode("utf-8")
    content_type = f"Content-Type: text/{subtype}; charset=utf-8"
    if normalized.isascii() and _lines_fit(normalized):
        return [content_type, "Content-Transfer-Encoding: 7bit"], normalized.replace("\n", CRLF)
    encoded = binascii.b2a_qp(data, istext=True).decode("ascii")
    return [content_type, "Content-Transfer-Encoding: quoted-printable"], encoded.replace(
        "\n", CRLF
    )


def _lines_fit(text: str) -> bool:
    """No line longer than SMTP's 998 octets (a short text has none)."""
    return len(text) <= 998 or max(map(len, text.split("\n"))) <= 998


@functools.lru_cache(maxsize=16)  # a batch's messages share their date
def _date(when: datetime, _offset: timedelta | None) -> str:
    # Keyed by the offset as well: the same instant in two zones is one equal datetime,
    # but two different headers.
    return format_datetime(when)


def _attachment_part(attachment: Attachment) -> tuple[list[str], str]:
    name = attachment.filename
    if name.isascii() and name.isprintable() and '"' not in name and "\\" not in name:
        disposition = f'attachment; filename="{name}"'
    else:
        disposition = f"attachment; filename*=utf-8''{quote(name, safe='')}"
    encoded = base64.encodebytes(attachment.content).decode("ascii").replace("\n", CRLF)
    headers = [
        f"Content-Type: {attachment.content_type}",
        f"Content-Disposition: {disposition}",
        "Content-Transfer-Encoding: base64",
    ]
    return headers, encoded


def _multipart(subtype: str, parts: list[tuple[list[str], str]]) -> tuple[list[str], str]:
    boundary = "=_kg_" + secrets.token_hex(12)  # random, so no body can contain it by chance
    chunks = []
    for headers, body in parts:
        chunks.append(f"--{boundary}{CRLF}{CRLF.join(headers)}{CRLF}{CRLF}{body}{CRLF}")
    body = "".join(chunks) + f"--{boundary}--{CRLF}"
    return [f'Content-Type: multipart/{subtype}; boundary="{boundary}"'], body
