"""Per-key restrictions: CIDR allowlist, sender domains, recipients, quota and rate limit."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from keyguard.errors import InvalidInput

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Restrictions:
    """What a key may do beyond its scopes. Empty tuples mean 'no restriction of this kind'."""

    allowed_networks: tuple[IPNetwork, ...] = ()
    sender_domains: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    daily_quota: int | None = None
    rate_limit_per_minute: int | None = None
    # (version, network address, netmask) as integers: membership is two integer operations,
    # which matters because this check runs on every verification of an allowlisted key.
    _ranges: tuple[tuple[int, int, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ranges = tuple(
            (n.version, int(n.network_address), int(n.netmask)) for n in self.allowed_networks
        )
        object.__setattr__(self, "_ranges", ranges)

    def allows_ip(self, ip: IPAddress | None) -> bool:
        if not self._ranges:
            return True
        if ip is None:
            return False  # an allowlisted key with an unknown origin is refused: fail closed
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # "::ffff:203.0.113.7" must match an IPv4 allowlist entry
        version, value = ip.version, int(ip)
        for v, net, mask in self._ranges:  # noqa: SIM110 - a loop: a generator costs more here
            if v == version and value & mask == net:
                return True
        return False

    def to_json(self) -> dict[str, Any]:
        return {
            "allowed_cidrs": [str(n) for n in self.allowed_networks],
            "sender_domains": list(self.sender_domains),
            "recipients": list(self.recipients),
            "daily_quota": self.daily_quota,
            "rate_limit_per_minute": self.rate_limit_per_minute,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Restrictions:
        data = data or {}
        return build_restrictions(
            allowed_cidrs=data.get("allowed_cidrs", ()),
            sender_domains=data.get("sender_domains", ()),
            recipients=data.get("recipients", ()),
            daily_quota=data.get("daily_quota"),
            rate_limit_per_minute=data.get("rate_limit_per_minute"),
        )

    def within(self, parent: Restrictions) -> bool:
        """True when these restrictions are at least as tight as `parent`'s (no escalation)."""
        return (
            _networks_within(self.allowed_networks, parent.allowed_networks)
            and _values_within(self.sender_domains, parent.sender_domains)
            and _values_within(self.recipients, parent.recipients)
            and _limit_within(self.daily_quota, parent.daily_quota)
            and _limit_within(self.rate_limit_per_minute, parent.rate_limit_per_minute)
        )


def build_restrictions(
    *,
    allowed_cidrs: Iterable[str] = (),
    sender_domains: Iterable[str] = (),
    recipients: Iterable[str] = (),
    daily_quota: int | None = None,
    rate_limit_per_minute: int | None = None,
) -> Restrictions:
    """Parse and validate user input into Restrictions; raise InvalidInput with a field name."""
    return Restrictions(
        allowed_networks=tuple(parse_cidr(c) for c in allowed_cidrs),
        sender_domains=tuple(sorted({_domain(d) for d in sender_domains})),
        recipients=tuple(sorted({_recipient(r) for r in recipients})),
        daily_quota=_positive(daily_quota, "daily_quota"),
        rate_limit_per_minute=_positive(rate_limit_per_minute, "rate_limit_per_minute"),
    )


def parse_cidr(text: str, field: str = "allowed_cidrs") -> IPNetwork:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise InvalidInput(f"invalid CIDR {text!r}", code="invalid_cidr", field=field) from None


def parse_cidr_list(values: Iterable[str], field: str) -> tuple[str, ...]:
    """Comma-separated CIDRs, normalised, duplicates dropped (proxies, allowlists in settings)."""
    parts = (part.strip() for value in values for part in value.split(","))
    return tuple(dict.fromkeys(str(parse_cidr(part, field)) for part in parts if part))


def _domain(text: str) -> str:
    domain = text.strip().lower().rstrip(".")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_is_label(label) for label in labels):
        raise InvalidInput(
            f"invalid domain {text!r}", code="invalid_domain", field="sender_domains"
        )
    return domain


def _is_label(label: str) -> bool:
    return 0 < len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()


def _recipient(text: str) -> str:
    """A full address or `@domain` (every address at that domain)."""
    value = text.strip().lower()
    local, at, domain = value.rpartition("@")
    if not at or (local and (" " in local or len(local) > 64)):
        raise InvalidInput(
            f"invalid recipient {text!r}", code="invalid_recipient", field="recipients"
        )
    return f"{local}@{_domain(domain)}"


def _positive(value: int | None, name: str) -> int | None:
    if value is not None and (not isinstance(value, int) or value <= 0):
        raise InvalidInput(f"{name} must be a positive integer", code="invalid_limit", field=name)
    return value


def _networks_within(child: tuple[IPNetwork, ...], parent: tuple[IPNetwork, ...]) -> bool:
    if not parent:
        return True
    if not child:
        return False
    return all(
        # subnet_of wants both of one family; the version test above guarantees it at run time.
        any(c.version == p.version and c.subnet_of(p) for p in parent)  # type: ignore[arg-type]
        for c in child
    )


def _values_within(child: tuple[str, ...], parent: tuple[str, ...]) -> bool:
    return not parent or (bool(child) and set(child) <= set(parent))


def _limit_within(child: int | None, parent: int | None) -> bool:
    return parent is None or (child is not None and child <= parent)
