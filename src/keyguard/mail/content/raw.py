"""Messages submitted over SMTP: the client wrote the MIME, we check and lightly fix it.

The header `From` must pass the same sender policy as the envelope sender (otherwise a key
allowed to send from one domain could forge another in the visible header). `Bcc` header
fields are dropped, since every recipient would see them; `Message-ID` and `Date` are added
when missing. Headers only the service may write (Sender, Resent-*, Return-Path, Received…)
are refused by the same function that refuses them as HTTP custom headers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from email.header import decode_header, make_header
from email.utils import format_datetime, getaddresses
from typing import Final

from keyguard.errors import InvalidInput
from keyguard.mail.addresses import Address, parse_address
from keyguard.mail.content.prepare import Prepared, check_caller_header, check_size
from keyguard.mail.ids import new_id
from keyguard.mail.sending import policy
from keyguard.policy import Restrictions

_FIELD_NAME: Final = re.compile(rb"^([!-9;-~]+)[ \t]*:")
_DROPPED: Final = frozenset({b"bcc"})


def prepare_raw(
    data: bytes,
    *,
    sender: Address,
    recipients: Sequence[Address],
    restrictions: Restrictions,
    tenant: policy.TenantMailPolicy,
    now: datetime,
) -> Prepared:
    check_size(len(data))
    head, separator, body = _split(data)
    fields = _fields(head)
    for name, _ in fields:
        check_caller_header(name.decode("ascii"))
    from_values = [value for name, value in fields if name == b"from"]
    if len(from_values) != 1:
        raise InvalidInput("the message needs exactly one From header", code="invalid_from")
    for address in _header_addresses(from_values[0]):
        policy.check_sender(restrictions, tenant, address)
    message_id = new_id("msg", now)
    kept = [raw for (name, _), raw in zip(fields, _raw_fields(head), strict=True)
            if name not in _DROPPED]  # fmt: skip
    names = {name for name, _ in fields}
    if b"message-id" not in names:
        kept.append(f"Message-ID: <{message_id}@{sender.domain}>\r\n".encode("ascii"))
    if b"date" not in names:
        kept.append(f"Date: {format_datetime(now)}\r\n".encode("ascii"))
    mime = b"".join(kept) + separator + body
    check_size(len(mime))
    subject = _subject([value for name, value in fields if name == b"subject"])
    return Prepared(message_id, sender, tuple(recipients), subject, mime)


def _split(data: bytes) -> tuple[bytes, bytes, bytes]:
    """(header block with its final line break, the blank line, the body)."""
    for blank in (b"\r\n\r\n", b"\n\n"):
        at = data.find(blank)
        if at >= 0:
            half = len(blank) // 2
            return data[: at + half], data[at + half : at + len(blank)], data[at + len(blank) :]
    raise InvalidInput("the message has no header/body separator", code="invalid_message")


def _raw_fields(head: bytes) -> list[bytes]:
    """The header block split into fields, each with its continuation lines."""
    fields: list[bytes] = []
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def _fields(head: bytes) -> list[tuple[bytes, str]]:
    parsed = []
    for raw in _raw_fields(head):
        match = _FIELD_NAME.match(raw)
        if match is None:
            raise InvalidInput("the message has a malformed header line", code="invalid_message")
        value = raw[match.end() :].decode("utf-8", "replace")
        parsed.append((match.group(1).lower(), " ".join(value.split())))
    return parsed


def _header_addresses(value: str) -> list[Address]:
    pairs = getaddresses([value])
    if not pairs or not all(addr for _, addr in pairs):
        raise InvalidInput("the From header has no address", code="invalid_from")
    return [parse_address(addr, "From") for _, addr in pairs]


def _subject(values: list[str]) -> str:
    if not values:
        return ""
    try:
        return str(make_header(decode_header(values[0])))[:998]
    except (ValueError, LookupError):
        return values[0][:998]
