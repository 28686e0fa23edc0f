"""CIDR allowlists over real sockets: the client IP is the peer, or the X-Forwarded-For hop a
trusted proxy names; IPv4 on 127.0.0.1 and IPv6 on ::1."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.functional.api.conftest import Api, StartApi

Status = Callable[..., int]


def _status_for(api: Api, **restrictions: object) -> Callable[..., int]:
    """GET /v1/keys with a fresh key restricted as given; returns the status code."""
    client = api.client(api.key("keys:read", **restrictions))

    def status(forwarded: str | None = None) -> int:
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        return client.get("/v1/keys", headers=headers).status_code

    return status


@pytest.mark.parametrize(
    ("host", "own", "foreign"),
    [("127.0.0.1", "127.0.0.1/32", "203.0.113.0/24"), ("::1", "::1/128", "2001:db8::/32")],
)
def test_the_socket_peer_is_checked_against_the_allowlist(
    start_api: StartApi, host: str, own: str, foreign: str
) -> None:
    api = start_api(host=host)
    assert _status_for(api, allowed_cidrs=[own])() == 200
    assert _status_for(api, allowed_cidrs=[foreign])() == 403
    assert _status_for(api, allowed_cidrs=[own, foreign])() == 200


@pytest.mark.parametrize(("host", "client"), [("127.0.0.1", "203.0.113.7"), ("::1", "2001:db8::7")])
def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    start_api: StartApi, host: str, client: str
) -> None:
    api = start_api(host=host)
    status = _status_for(api, allowed_cidrs=[client])
    assert status(forwarded=client) == 403
    denied = api.usage()[-1]
    assert denied.outcome == "denied_ip"
    assert denied.ip == host


@pytest.mark.parametrize(
    ("host", "proxy", "client"),
    [("127.0.0.1", "127.0.0.1/32", "203.0.113.7"), ("::1", "::1/128", "2001:db8::7")],
)
def test_a_trusted_proxy_names_the_client(
    start_api: StartApi, host: str, proxy: str, client: str
) -> None:
    api = start_api(host=host, trusted_proxies=(proxy,))
    status = _status_for(api, allowed_cidrs=[client])
    assert status(forwarded=client) == 200
    assert api.usage()[-1].ip == client
    assert status() == 403  # the proxy's own address is not the client's


def test_the_client_is_the_rightmost_hop_that_is_not_a_trusted_proxy(start_api: StartApi) -> None:
    one_proxy = start_api(trusted_proxies=("127.0.0.1/32",))
    chain = "198.51.100.9, 203.0.113.7"  # a client-supplied hop, then what our proxy saw
    assert _status_for(one_proxy, allowed_cidrs=["203.0.113.7/32"])(forwarded=chain) == 200
    assert _status_for(one_proxy, allowed_cidrs=["198.51.100.9/32"])(forwarded=chain) == 403
    two_proxies = start_api(trusted_proxies=("127.0.0.1/32", "203.0.113.0/24"))
    assert _status_for(two_proxies, allowed_cidrs=["198.51.100.9/32"])(forwarded=chain) == 200


@pytest.mark.parametrize("hop", ["unknown", "junk", ",", "203.0.113.7:", "[::1"])
def test_an_unparseable_forwarded_for_hop_is_an_unknown_client(
    start_api: StartApi, hop: str
) -> None:
    api = start_api(trusted_proxies=("127.0.0.1/32",))
    forwarded = f"203.0.113.7, {hop}"  # "," leaves an empty right-most hop
    assert _status_for(api, allowed_cidrs=["127.0.0.1/32"])(forwarded=forwarded) == 403
    refused = api.usage()[-1]
    assert (refused.outcome, refused.ip) == ("denied_ip", None)
    assert _status_for(api)(forwarded=forwarded) == 200  # a key without an allowlist still works


@pytest.mark.parametrize(
    ("hop", "client"), [("203.0.113.7:4711", "203.0.113.7"), ("[2001:db8::7]:4711", "2001:db8::7")]
)
def test_a_forwarded_for_hop_with_a_port_names_the_client(
    start_api: StartApi, hop: str, client: str
) -> None:
    api = start_api(trusted_proxies=("127.0.0.1/32",))
    assert _status_for(api, allowed_cidrs=[client])(forwarded=hop) == 200
    assert api.usage()[-1].ip == client


def test_an_ipv4_allowlist_does_not_admit_an_ipv6_peer(start_api: StartApi) -> None:
    api = start_api(host="::1")
    assert _status_for(api, allowed_cidrs=["127.0.0.0/8"])() == 403
