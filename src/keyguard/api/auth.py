"""Who is calling: the presented key (Authorization: Bearer, or X-API-Key) and the client IP.

The client IP is the socket peer, unless that peer is a configured trusted proxy: then it is
the right-most X-Forwarded-For hop that is not itself a trusted proxy (`ip`, `ipv4:port` or
`[ipv6]:port`). A hop that is none of these makes the client unknown (None), which keys with
an IP allowlist are refused. A header from anyone else is never believed, since anyone can
send one.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from typing import Final
from urllib.parse import parse_qsl

from starlette.types import Scope

from keyguard.errors import AuthenticationFailed, InvalidInput
from keyguard.logging import scrub
from keyguard.policy import IPAddress, IPNetwork

HOW_TO_AUTHENTICATE: Final = "send the key as `Authorization: Bearer <key>` or `X-API-Key: <key>`"
# Query parameter names that can only mean "here is my key".
KEY_PARAMETERS: Final = frozenset({"api_key", "apikey", "api-key", "access_token", "x-api-key"})


class TrustedProxies:
    """The proxies whose X-Forwarded-For is believed (`--behind-proxy`, trusted_proxies)."""

    def __init__(self, cidrs: Iterable[str] = ()) -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(c, strict=False) for c in cidrs
        )

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, ip: IPAddress) -> bool:
        ip = _unmapped(ip)
        return any(ip.version == net.version and ip in net for net in self.networks)


def client_ip(scope: Scope, trusted: TrustedProxies) -> IPAddress | None:
    """The address policy decisions use for this request (see the module docstring)."""
    client = scope.get("client")
    peer = _parse(client[0]) if client else None
    if peer is None or not trusted or not trusted.trusts(peer):
        return peer
    forwarded = [
        value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-for"
    ]
    hops = [hop.strip() for line in forwarded for hop in line.split(",")]
    current = peer
    for hop in reversed(hops):  # walk from the nearest proxy outwards
        address = _parse_hop(hop)
        if address is None:
            # Garbage (`unknown`, empty, …): the client is unknown, and an allowlisted key is
            # refused. Never fall back to the proxy: a key allowlisted for it would pass.
            return None
        if not trusted.trusts(address):
            return address
        current = address
    return current


def presented_key(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The key the caller presents (raw ASGI headers, read in one pass); AuthenticationFailed
    (missing_key) when there is none, InvalidInput (ambiguous_credentials) when it is unclear
    which one is meant."""
    authorization = header_key = None
    for name, value in headers:
        if name == b"authorization":
            if authorization is not None:
                raise _twice("Authorization")
            authorization = value.decode("latin-1")
        elif name == b"x-api-key":
            if header_key is not None:
                raise _twice("X-API-Key")
            header_key = value.decode("latin-1").strip()
    bearer = None
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            bearer = token.strip()
    if bearer is not None and header_key is not None and bearer != header_key:
        raise InvalidInput(
            "Authorization and X-API-Key carry different keys; send one",
            code="ambiguous_credentials",
        )
    key = bearer if bearer is not None else header_key
    if not key:
        raise AuthenticationFailed(f"no API key: {HOW_TO_AUTHENTICATE}", code="missing_key")
    return key


def _twice(header: str) -> InvalidInput:
    # Servers and proxies disagree on which of two copies wins: never pick one silently.
    return InvalidInput(f"{header} is sent twice; send one", code="ambiguous_credentials")


def key_in_query(query_string: bytes) -> bool:
    """True when the URL carries something that is, or is named like, an API key."""
    if not query_string:
        return False
    text = query_string.decode("latin-1")
    for name, value in parse_qsl(text, keep_blank_values=True):
        if name.lower() in KEY_PARAMETERS or scrub(value) != value or scrub(name) != name:
            return True
    return "kg_" in text and scrub(text) != text


@functools.lru_cache(maxsize=4096)  # per request, and the same few peers again and again
def _parse(text: str) -> IPAddress | None:
    try:
        return _unmapped(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        return None


def _parse_hop(text: str) -> IPAddress | None:
    """An X-Forwarded-For hop: `ip`, `ipv4:port`, `[ipv6]` or `[ipv6]:port`; else None."""
    text = text.strip()
    if text.startswith("["):
        host, closed, port = text[1:].partition("]")
        if not closed or (port and not (port.startswith(":") and _is_port(port[1:]))):
            return None
        address = _parse(host)
        return address if isinstance(address, ipaddress.IPv6Address) else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        address = _parse(host)
        ok = isinstance(address, ipaddress.IPv4Address) and _is_port(port)
        return address if ok else None
    return _parse(text) if text else None


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and 0 < int(text) <= 65535


def _unmapped(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip
