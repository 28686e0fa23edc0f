"""Scopes and per-key restrictions: pure checks that return Allowed or Denied(reason)."""

from keyguard.policy.durations import parse_duration
from keyguard.policy.restrictions import (
    IPAddress,
    IPNetwork,
    Restrictions,
    build_restrictions,
    parse_cidr_list,
)
from keyguard.policy.scopes import ALL_SCOPES, SCOPES, covers, grants, normalize_scopes

__all__ = [
    "ALL_SCOPES",
    "SCOPES",
    "IPAddress",
    "IPNetwork",
    "Restrictions",
    "build_restrictions",
    "covers",
    "grants",
    "normalize_scopes",
    "parse_cidr_list",
    "parse_duration",
]
