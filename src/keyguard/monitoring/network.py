"""What detection compares instead of raw values: networks, providers, client families,
endpoints. Addresses are opaque strings: private, shared and documentation ranges are
networks like any other, and a string that is no address is its own network."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Final

Provider = int | str
"""An ASN, or without one the coarse network (IPv4 /16, IPv6 /32) standing in for it."""

_MAPPED: Final = "::ffff:"


def network_of(ip: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) an address belongs to, as a short prefix string."""
    if ":" not in ip:
        return ip.rpartition(".")[0] or ip
    if ip.startswith(_MAPPED) and "." in ip:
        return ip[len(_MAPPED) :].rpartition(".")[0]
    return _v6_prefix(ip, 48)


def provider_of(ip: str, asn: int | None) -> Provider:
    """The ASN when the event has one, else the coarse network of the address."""
    if asn is not None:
        return asn
    if ":" not in ip:
        head = ip.split(".", 2)
        return ".".join(head[:2]) if len(head) == 3 else ip
    if ip.startswith(_MAPPED) and "." in ip:
        return provider_of(ip[len(_MAPPED) :], None)
    return _v6_prefix(ip, 32)


def describe_network(network: str) -> str:
    """A prefix string as CIDR for evidence: `203.0.113` → `203.0.113.0/24`."""
    if ":" in network:
        return network
    return f"{network}.0/24" if network.count(".") == 2 else network


@lru_cache(maxsize=65536)
def _v6_prefix(ip: str, bits: int) -> str:
    try:
        net = ipaddress.IPv6Network(f"{ip.split('%', 1)[0]}/{bits}", strict=False)
    except ValueError:
        return ip  # not an address: opaque, its own network
    return str(net)


@lru_cache(maxsize=4096)
def client_family(user_agent: str) -> str:
    """The client without its version: `python-requests/2.31.0` → `python-requests`, so an
    upgrade of the library is not a new client."""
    head = user_agent.strip().split("/", 1)[0]
    return head.split(" ", 1)[0].lower() or "-"


@lru_cache(maxsize=8192)
def endpoint_of(path: str) -> str:
    """A path with its identifiers folded: `/v1/contacts/123` → `/v1/contacts/{id}`."""
    parts = path.split("?", 1)[0].split("/")
    return "/".join("{id}" if _is_identifier(part) else part for part in parts)


def _is_identifier(part: str) -> bool:
    if len(part) > 24:
        return True
    return any(c.isdigit() for c in part) and not (part[:1] == "v" and part[1:].isdigit())
