"""Address parsing: strict on purpose, so what we accept is safe in headers and envelopes."""

from __future__ import annotations

import pytest

from keyguard.errors import InvalidInput
from keyguard.mail.addresses import (
    matches_rule,
    normalize_recipient_rule,
    parse_address,
)


def test_a_bare_address_keeps_its_local_part_and_lowercases_its_domain() -> None:
    address = parse_address("Alice.B+tag@Example.COM")
    assert (address.local, address.domain, address.name) == ("Alice.B+tag", "example.com", None)
    assert address.key == "alice.b+tag@example.com"


def test_a_display_name_is_kept_apart_from_the_address() -> None:
    address = parse_address('"Brand, Inc." <news@brand.example>')
    assert (address.name, address.addr) == ("Brand, Inc.", "news@brand.example")


def test_an_international_domain_is_idna_encoded() -> None:
    assert parse_address("a@bücher.example").domain == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    "text",
    [
        "no-at-sign",
        "@example.com",
        "a@",
        "a@localhost",
        "a@example.123",
        "a..b@example.com",
        ".a@example.com",
        '"quoted"@example.com',
        "a b@example.com",
        "a@-bad-.example",
        "a@" + "x" * 64 + ".example",
        "x" * 65 + "@example.com",
        "é@example.com",
    ],
)
def test_malformed_addresses_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_address(text)
    assert refused.value.code in {"invalid_address", "invalid_domain"}


@pytest.mark.parametrize(
    "text", ["a@example.com\r\nBcc: x@evil.example", "Name\n <a@example.com>", "a@example.com\x00"]
)
def test_line_breaks_and_control_characters_are_header_injection(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_address(text, "to")
    assert (refused.value.code, refused.value.field) == ("header_injection", "to")


def test_rules_match_a_full_address_or_a_whole_domain() -> None:
    rules = frozenset({normalize_recipient_rule("QA@Brand.example"), "@partner.example"})
    assert matches_rule(parse_address("qa@brand.example"), rules)
    assert matches_rule(parse_address("anyone@partner.example"), rules)
    assert not matches_rule(parse_address("other@brand.example"), rules)
    assert not matches_rule(parse_address("x@sub.partner.example"), rules)
