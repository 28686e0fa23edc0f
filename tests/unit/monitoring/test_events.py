"""Reading usage events: the PRODUCT.md schema, and bad lines named by number."""

from __future__ import annotations

import json

import pytest

from keyguard.monitoring import InvalidEvent, read_events
from keyguard.monitoring.network import client_family, endpoint_of, network_of, provider_of

LINE = {
    "ts": "2026-11-27T10:00:00.123Z", "key_id": "k1", "tenant": "t1", "env": "live",
    "ip": "203.0.113.7", "user_agent": "x/1", "method": "POST", "path": "/v1/mail/send",
    "scope": "mail:send", "outcome": "ok", "status": 202, "recipients": 3,
    "recipient_domains": ["example.com"], "sender": "news@brand.example",
}  # fmt: skip


def _lines(*objects: object) -> list[bytes]:
    return [json.dumps(o).encode() + b"\n" for o in objects]


def test_a_product_event_with_extra_and_optional_fields_is_read() -> None:
    extra = {**LINE, "geo": "DE", "asn": 64500, "key_last_used_at": "2026-11-27T09:00:00Z"}
    (event,) = read_events(_lines({**extra, "something_new": 1}))
    assert event.asn == 64500
    assert event.key_last_used_at is not None
    assert event.ts.timestamp() == pytest.approx(1795773600.123)


def test_blank_lines_are_skipped() -> None:
    assert len(list(read_events([b"\n", *_lines(LINE), b"   \n"]))) == 1


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (b"{not json\n", "not valid JSON"),
        (json.dumps({**LINE, "outcome": "maybe"}).encode(), "not a usage event"),
        (json.dumps({**LINE, "ts": "2026-11-27T10:00:00"}).encode(), "not a usage event"),
        (json.dumps({k: v for k, v in LINE.items() if k != "ts"}).encode(), "ts"),
    ],
)
def test_a_bad_line_is_named_by_its_number(line: bytes, says: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        list(read_events([*_lines(LINE, LINE), line]))
    assert caught.value.line == 3
    assert caught.value.message.startswith("line 3: ")
    assert says in caught.value.message


@pytest.mark.parametrize(
    ("ip", "network"),
    [
        ("203.0.113.7", "203.0.113"),
        ("2001:db8:1:2::7", "2001:db8:1::/48"),
        ("2001:0db8:0001::9", "2001:db8:1::/48"),
        ("::ffff:203.0.113.9", "203.0.113"),
        ("not an address", "not an address"),
    ],
)
def test_networks_are_slash_24_and_slash_48(ip: str, network: str) -> None:
    assert network_of(ip) == network


def test_the_provider_is_the_asn_or_the_coarse_network() -> None:
    assert provider_of("203.0.113.7", 64500) == 64500
    assert provider_of("203.0.113.7", None) == "203.0"
    assert provider_of("2001:db8:1:2::7", None) == "2001:db8::/32"


def test_client_family_and_endpoint_drop_versions_and_identifiers() -> None:
    assert client_family("python-requests/2.31.0") == client_family("python-requests/2.32.3")
    assert client_family("PHPMailer 6.8") == "phpmailer"
    assert endpoint_of("/v1/contacts/8f3a2c?x=1") == "/v1/contacts/{id}"
    assert endpoint_of("/v1/mail/send") == "/v1/mail/send"


def test_the_events_the_service_stores_are_read_as_written() -> None:
    # The online detector and `keyguard monitor replay` read what keyguard.usage writes.
    from datetime import UTC, datetime

    from keyguard.monitoring import decode_event
    from keyguard.usage import UsageEvent

    stored = UsageEvent(
        ts=datetime(2026, 11, 27, 10, 0, 0, 123000, tzinfo=UTC), key_id="k1", tenant_id="t1",
        env="live", ip="203.0.113.7", user_agent="x/1", method="POST", path="/v1/mail/send",
        scope="mail:send", outcome="revoked", status=401, recipients=None,
        recipient_domains=None, sender=None, extra={"code": "key_rotated"}, request_id="r1",
        key_last_used_at=datetime(2026, 11, 1, tzinfo=UTC), geo="DE", asn=64500,
    )  # fmt: skip
    event = decode_event(json.dumps(stored.to_json()))
    assert (event.code, event.geo, event.asn, event.request_id) == (
        "key_rotated",
        "DE",
        64500,
        "r1",
    )
    assert event.key_last_used_at == datetime(2026, 11, 1, tzinfo=UTC)
    assert event.ts == datetime(2026, 11, 27, 10, 0, 0, 123000, tzinfo=UTC)
