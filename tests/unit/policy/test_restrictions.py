"""Restrictions: parsing, IP allowlists and the 'at least as tight' rule."""

from __future__ import annotations

import ipaddress

import pytest

from keyguard.errors import InvalidInput
from keyguard.policy.durations import parse_duration
from keyguard.policy.restrictions import Restrictions, build_restrictions


@pytest.mark.parametrize(
    ("cidrs", "ip", "allowed"),
    [
        (["203.0.113.0/24"], "203.0.113.7", True),
        (["203.0.113.0/24"], "198.51.100.7", False),
        (["2001:db8::/32"], "2001:db8::1", True),
        (["2001:db8::/32"], "2001:db9::1", False),
        (["203.0.113.0/24"], "::ffff:203.0.113.9", True),
        (["203.0.113.0/24"], "2001:db8::1", False),
        ([], "198.51.100.7", True),
    ],
)
def test_ip_allowlist(cidrs: list[str], ip: str, allowed: bool) -> None:
    restrictions = build_restrictions(allowed_cidrs=cidrs)
    assert restrictions.allows_ip(ipaddress.ip_address(ip)) is allowed


def test_allowlisted_key_with_unknown_origin_is_refused() -> None:
    assert not build_restrictions(allowed_cidrs=["10.0.0.0/8"]).allows_ip(None)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"allowed_cidrs": ["10.0.0.0/33"]}, "invalid_cidr"),
        ({"allowed_cidrs": ["not-an-ip"]}, "invalid_cidr"),
        ({"sender_domains": ["no_dots"]}, "invalid_domain"),
        ({"recipients": ["nobody"]}, "invalid_recipient"),
        ({"daily_quota": 0}, "invalid_limit"),
        ({"rate_limit_per_minute": -5}, "invalid_limit"),
    ],
)
def test_bad_restrictions_are_refused_with_a_code(kwargs: dict[str, object], code: str) -> None:
    with pytest.raises(InvalidInput) as info:
        build_restrictions(**kwargs)  # type: ignore[arg-type]
    assert info.value.code == code


def test_json_round_trip_keeps_every_restriction() -> None:
    original = build_restrictions(
        allowed_cidrs=["10.0.0.0/8", "2001:db8::/48"],
        sender_domains=["Brand.Example"],
        recipients=["@example.com", "a@example.org"],
        daily_quota=100,
        rate_limit_per_minute=60,
    )
    assert Restrictions.from_json(original.to_json()) == original
    assert original.sender_domains == ("brand.example",)


@pytest.mark.parametrize(
    ("child", "parent", "within"),
    [
        ({}, {}, True),
        ({"allowed_cidrs": ["10.1.0.0/16"]}, {"allowed_cidrs": ["10.0.0.0/8"]}, True),
        ({"allowed_cidrs": ["0.0.0.0/0"]}, {"allowed_cidrs": ["10.0.0.0/8"]}, False),
        ({}, {"allowed_cidrs": ["10.0.0.0/8"]}, False),
        ({"sender_domains": ["a.example"]}, {"sender_domains": ["a.example", "b.example"]}, True),
        ({"sender_domains": ["c.example"]}, {"sender_domains": ["a.example"]}, False),
        ({"daily_quota": 10}, {"daily_quota": 100}, True),
        ({"daily_quota": 1000}, {"daily_quota": 100}, False),
        ({}, {"rate_limit_per_minute": 60}, False),
    ],
)
def test_within_means_at_least_as_tight(
    child: dict[str, object], parent: dict[str, object], within: bool
) -> None:
    assert build_restrictions(**child).within(build_restrictions(**parent)) is within  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "seconds"), [("90d", 7_776_000), ("24h", 86_400), ("2w", 1_209_600)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "90", "d90", "1y", "-1d", "1.5h"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_duration(text)
    assert info.value.code == "invalid_duration"
