"""Messages submitted over SMTP: Bcc dropped, ids added, the header From policed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keyguard.errors import InvalidInput, PermissionDenied
from keyguard.mail.addresses import parse_address
from keyguard.mail.content.prepare import custom_headers
from keyguard.mail.content.raw import prepare_raw
from keyguard.mail.sending.policy import TenantMailPolicy
from keyguard.policy.restrictions import Restrictions

TENANT = TenantMailPolicy(frozenset({"brand.example"}), frozenset())
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def prepare(data: bytes) -> bytes:
    prepared = prepare_raw(
        data,
        sender=parse_address("news@brand.example"),
        recipients=[parse_address("a@example.com")],
        restrictions=Restrictions(),
        tenant=TENANT,
        now=NOW,
    )
    return prepared.mime


def test_bcc_fields_with_continuation_lines_are_dropped() -> None:
    data = (
        b"From: news@brand.example\r\nBcc: secret@example.com,\r\n more@example.com\r\n"
        b"Subject: hi\r\n\r\nbody\r\n"
    )
    mime = prepare(data)
    assert b"Bcc" not in mime and b"more@example.com" not in mime
    assert mime.endswith(b"\r\n\r\nbody\r\n")


def test_message_id_and_date_are_added_only_when_missing() -> None:
    mime = prepare(b"From: news@brand.example\r\n\r\nbody\r\n")
    assert b"Message-ID: <msg_" in mime and b"Date: " in mime
    given = b"From: news@brand.example\r\nMessage-ID: <mine@x>\r\nDate: x\r\n\r\nb\r\n"
    assert prepare(given).count(b"Message-ID") == 1


def test_the_header_from_must_pass_the_sender_policy() -> None:
    with pytest.raises(PermissionDenied) as denied:
        prepare(b"From: Boss <ceo@bank.example>\r\n\r\nbody\r\n")
    assert denied.value.code == "denied_sender"


@pytest.mark.parametrize(
    "data",
    [b"Subject: no from\r\n\r\nbody", b"From: a@brand.example\r\nFrom: b@brand.example\r\n\r\nx"],
)
def test_exactly_one_from_header_is_required(data: bytes) -> None:
    with pytest.raises(InvalidInput) as refused:
        prepare(data)
    assert refused.value.code == "invalid_from"


def test_a_message_without_a_body_separator_is_refused() -> None:
    with pytest.raises(InvalidInput):
        prepare(b"From: news@brand.example")


@pytest.mark.parametrize(
    "name", ["Sender", "Resent-From", "Resent-Sender", "Return-Path", "Received", "DKIM-Signature"]
)
def test_headers_the_service_writes_are_refused_at_both_doors(name: str) -> None:
    with pytest.raises(InvalidInput) as over_smtp:
        prepare(f"From: news@brand.example\r\n{name}: x@bank.example\r\n\r\nbody\r\n".encode())
    with pytest.raises(InvalidInput) as over_http:
        custom_headers({name: "x@bank.example"})
    assert over_smtp.value.code == over_http.value.code == "reserved_header"


def test_headers_an_smtp_client_writes_itself_are_kept() -> None:
    mime = prepare(
        b"From: news@brand.example\r\nTo: a@example.com\r\nReply-To: help@brand.example\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\nSubject: hi\r\n\r\nbody\r\n"
    )
    assert b"Reply-To: help@brand.example" in mime
