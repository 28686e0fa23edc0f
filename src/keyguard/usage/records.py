"""A usage event before it is stored: built on the request path, written in batches."""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol, TypedDict

from keyguard.logging import scrub
from keyguard.usage.models import UsageEvent

# Column widths of `usage_events`; longer values are cut so one odd request cannot make a
# whole batch fail on PostgreSQL.
WIDTHS: Final = {
    "ip": 45,
    "user_agent": 300,
    "method": 10,
    "path": 300,
    "scope": 40,
    "request_id": 128,
    "geo": 8,
}


# A dotted-quad part as ipaddress accepts it: 0-255, no leading zero.
_OCTET: Final = re.compile(r"25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]")


def _cut(name: str, value: str | None) -> str | None:
    return value[: WIDTHS[name]] if value is not None else None


@functools.lru_cache(maxsize=65_536)
def ip_hex(ip: str | None) -> str | None:
    """An address as 32 hex digits of its IPv6 form (IPv4 mapped into ::ffff:0:0/96): the
    strings sort like the addresses, so a CIDR is a range of them on SQLite and PostgreSQL.
    None for no address or one that does not parse."""
    if ip is None:
        return None
    quad = ip.split(".")
    if len(quad) == 4 and all(_OCTET.fullmatch(part) for part in quad):  # the common case
        return "00000000000000000000ffff" + "".join(f"{int(part):02x}" for part in quad)
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv4Address):
        address = ipaddress.IPv6Address(f"::ffff:{address}")
    return f"{int(address):032x}"


def logged_path(path: str) -> str:
    """A request path as it may be stored or logged: a key pasted into a URL path (e.g.
    `/v1/templates/x<key>`) masked, cut to the column width. The usage event applies it to
    its own path; the access log line uses it too."""
    return scrub(path)[: WIDTHS["path"]]


class KeyOwner(Protocol):
    """What a record needs of the key it is about (a KeySnapshot, say)."""

    @property
    def id(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def env(self) -> str: ...


class KeyColumns(TypedDict):
    key_id: str | None
    tenant_id: str | None
    env: str | None


def key_columns(key: KeyOwner | None) -> KeyColumns:
    """The columns naming the key a record is about; None for a string not one of ours."""
    if key is None:
        return {"key_id": None, "tenant_id": None, "env": None}
    return {"key_id": key.id, "tenant_id": key.tenant_id, "env": key.env}


@dataclass(slots=True)
class UsageRecord:
    """One request, allowed or denied, in the PRODUCT.md usage-event schema."""

    ts: datetime
    method: str
    path: str
    outcome: str
    status: int
    key_id: str | None = None
    tenant_id: str | None = None
    env: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    scope: str | None = None
    recipients: int | None = None
    recipient_domains: list[str] | None = None
    sender: str | None = None
    request_id: str | None = None
    extra: dict[str, Any] | None = None
    key_last_used_at: datetime | None = None  # the key's previous use (PRODUCT.md)
    geo: str | None = None  # ISO country of `ip`, from the IP database (geo.py)
    asn: int | None = None  # autonomous system of `ip`, from the IP database

    def __post_init__(self) -> None:
        # Free text of the request is masked where it enters storage, whoever built the
        # record (HTTP middleware, verification, mail): scrub costs a substring test when
        # there is nothing key-like in the text.
        self.path = logged_path(self.path)
        if self.user_agent:
            self.user_agent = scrub(self.user_agent)

    def columns(self, *, omit_empty: bool = False) -> dict[str, Any]:
        """The row as column values of `usage_events` (what the batched INSERT takes);
        `omit_empty` leaves out the optional columns that are None (stored as SQL NULL)."""
        row: dict[str, Any] = {
            "ts": self.ts,
            "key_id": self.key_id,
            "tenant_id": self.tenant_id,
            "env": self.env,
            "ip": _cut("ip", self.ip),
            "user_agent": _cut("user_agent", self.user_agent),
            "method": _cut("method", self.method),
            "path": _cut("path", self.path),
            "scope": _cut("scope", self.scope),
            "outcome": self.outcome,
            "status": self.status,
            "request_id": _cut("request_id", self.request_id),
            "key_last_used_at": self.key_last_used_at,
            "geo": _cut("geo", self.geo),
            "asn": self.asn,
            "ip_hex": self.ip_hex,
        }
        optional = {
            "recipients": self.recipients,
            "recipient_domains": self.recipient_domains,
            "sender": self.sender,
            "extra": self.extra,
        }
        row.update((k, v) for k, v in optional.items() if v is not None or not omit_empty)
        return row

    @property
    def ip_hex(self) -> str | None:
        """The `ip_hex` column, computed when the row is written (off the request path)."""
        return ip_hex(self.ip)

    @property
    def plain(self) -> bool:
        """No optional column set: the shape of nearly every HTTP request's event."""
        return (
            self.recipients is None
            and self.recipient_domains is None
            and self.sender is None
            and self.extra is None
        )

    def to_row(self) -> UsageEvent:
        """An ORM object, for a caller that adds the event inside its own transaction."""
        return UsageEvent(**self.columns())
