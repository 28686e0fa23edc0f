"""Who is calling, decided from the socket, the trusted proxies and the headers."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from starlette.datastructures import Headers

from keyguard.api.auth import TrustedProxies, client_ip, key_in_query, presented_key
from keyguard.errors import AuthenticationFailed, InvalidInput
from keyguard.keys import generate_key


def _scope(peer: str, *forwarded: str) -> dict[str, Any]:
    return {
        "client": (peer, 50000),
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded],
    }


def _ip(peer: str, *forwarded: str, trusted: tuple[str, ...] = ()) -> str:
    return str(client_ip(_scope(peer, *forwarded), TrustedProxies(trusted)))


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert _ip("127.0.0.1", "203.0.113.7") == "127.0.0.1"


def test_a_peer_that_is_not_a_trusted_proxy_is_the_client() -> None:
    assert _ip("198.51.100.1", "203.0.113.7", trusted=("127.0.0.1/32",)) == "198.51.100.1"


def test_a_trusted_proxy_names_the_rightmost_untrusted_hop() -> None:
    trusted = ("10.0.0.0/8",)
    assert _ip("10.0.0.2", "1.1.1.1, 203.0.113.7", trusted=trusted) == "203.0.113.7"
    assert _ip("10.0.0.2", "1.1.1.1, 203.0.113.7, 10.0.0.9", trusted=trusted) == "203.0.113.7"
    assert _ip("10.0.0.2", "1.1.1.1", "203.0.113.7", trusted=trusted) == "203.0.113.7"


def test_when_every_hop_is_trusted_the_farthest_one_is_the_client() -> None:
    assert _ip("10.0.0.2", "10.0.0.3, 10.0.0.4", trusted=("10.0.0.0/8",)) == "10.0.0.3"


@pytest.mark.parametrize(
    ("hop", "client"),
    [
        ("203.0.113.7:4711", "203.0.113.7"),
        ("[2001:db8::7]:4711", "2001:db8::7"),
        ("[2001:db8::7]", "2001:db8::7"),
    ],
)
def test_a_hop_with_a_port_names_its_address(hop: str, client: str) -> None:
    assert _ip("10.0.0.2", hop, trusted=("10.0.0.0/8",)) == client


@pytest.mark.parametrize(
    "hop", ["unknown", "nonsense", "", " ", "203.0.113.7:", "2001:db8::7:99999", "[::1", "1.2.3"]
)
def test_an_unparseable_hop_makes_the_client_unknown(hop: str) -> None:
    # Not the proxy: a key allowlisted for the proxy's own address must not pass (fail closed).
    scope = _scope("10.0.0.2", f"203.0.113.7, {hop}")
    assert client_ip(scope, TrustedProxies(("10.0.0.0/8",))) is None


def test_ipv6_and_ipv4_mapped_addresses() -> None:
    assert _ip("::1", "2001:db8::7", trusted=("::1/128",)) == "2001:db8::7"
    assert _ip("::ffff:10.0.0.2", "203.0.113.7", trusted=("10.0.0.0/8",)) == "203.0.113.7"
    assert _ip("::ffff:203.0.113.7") == "203.0.113.7"


def test_an_unknown_peer_is_none() -> None:
    assert client_ip({"client": None, "headers": []}, TrustedProxies()) is None
    assert client_ip({"client": ("testclient", 1), "headers": []}, TrustedProxies()) is None


def test_bearer_and_x_api_key_are_both_accepted() -> None:
    key = generate_key("live").reveal()
    assert presented_key(Headers({"authorization": f"Bearer {key}"}).raw) == key
    assert presented_key(Headers({"authorization": f"bearer  {key} "}).raw) == key
    assert presented_key(Headers({"x-api-key": key}).raw) == key


def test_no_key_and_conflicting_keys_are_refused() -> None:
    with pytest.raises(AuthenticationFailed) as missing:
        presented_key(Headers({"authorization": "Basic abc"}).raw)
    assert missing.value.code == "missing_key"
    with pytest.raises(InvalidInput) as both:
        presented_key(Headers({"authorization": "Bearer a", "x-api-key": "b"}).raw)
    assert both.value.code == "ambiguous_credentials"


@pytest.mark.parametrize("name", [b"authorization", b"x-api-key"])
def test_a_credential_header_sent_twice_is_ambiguous(name: bytes) -> None:
    one, two = generate_key("live").reveal(), generate_key("live").reveal()
    value = b"Bearer %s" if name == b"authorization" else b"%s"
    for second in (two, one):  # a repeated header is refused even when both values agree
        headers = [(name, value % one.encode()), (name, value % second.encode())]
        with pytest.raises(InvalidInput) as twice:
            presented_key(headers)
        assert twice.value.code == "ambiguous_credentials"


@pytest.mark.parametrize(
    ("query", "refused"),
    [
        (b"", False),
        (b"limit=10&cursor=key_abc", False),
        (b"api_key=anything", True),
        (b"ACCESS_TOKEN=x", True),
        (b"q=kg_live_abcdefghijklmnop", True),
        (b"q=kg%5Flive%5Fabcdefghijklmnop", True),
        (b"kg_test_abcdefghijkl=1", True),
    ],
)
def test_keys_in_the_query_string_are_spotted(query: bytes, refused: bool) -> None:
    assert key_in_query(query) is refused


def test_trusted_proxies_parse_cidrs() -> None:
    proxies = TrustedProxies(["10.0.0.0/8", "::1"])
    assert proxies.trusts(ipaddress.ip_address("10.1.2.3"))
    assert proxies.trusts(ipaddress.ip_address("::1"))
    assert not proxies.trusts(ipaddress.ip_address("11.0.0.1"))
