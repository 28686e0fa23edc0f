"""`<resource>:<action>` scopes, wildcards, and the no-escalation subset rule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from keyguard.errors import InvalidInput

SCOPES: Final[frozenset[str]] = frozenset(
    {
        "mail:send",
        "contacts:read",
        "contacts:write",
        "lists:read",
        "lists:write",
        "campaigns:read",
        "campaigns:write",
        "campaigns:send",
        "templates:read",
        "templates:write",
        "stats:read",
        "suppressions:read",
        "suppressions:write",
        "sandbox:read",
        "webhooks:write",
        "keys:read",
        "keys:write",
        "keys:verify",
        "audit:read",
        "leaks:report",  # a tenant's own scanners report keys they found (docs/incidents.md)
        "alerts:read",
        "alerts:write",
    }
)
RESOURCES: Final[frozenset[str]] = frozenset(s.split(":", 1)[0] for s in SCOPES)
ALL_SCOPES: Final[tuple[str, ...]] = tuple(sorted(f"{r}:*" for r in RESOURCES))


def normalize_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """Validate and deduplicate; an empty set is refused because there is no default access."""
    result = set()
    for given in scopes:
        scope = given.strip()
        resource, _, action = scope.partition(":")
        if scope not in SCOPES and not (action == "*" and resource in RESOURCES):
            raise InvalidInput(f"unknown scope {scope!r}", code="unknown_scope", field="scopes")
        result.add(scope)
    if not result:
        raise InvalidInput("at least one scope is required", code="scopes_required", field="scopes")
    return frozenset(result)


def grants(held: frozenset[str], required: str) -> bool:
    """True when `held` covers `required` exactly or through `resource:*`."""
    if required in held:
        return True
    return f"{required.split(':', 1)[0]}:*" in held


def covers(held: frozenset[str], requested: frozenset[str]) -> bool:
    """True when every requested scope (wildcards included) is within what is held."""
    for scope in requested:
        resource, _, action = scope.partition(":")
        if action == "*":
            if f"{resource}:*" not in held:
                return False
        elif not grants(held, scope):
            return False
    return True


def expand(scopes: frozenset[str]) -> frozenset[str]:
    """Every concrete scope the set grants (for display and reviews)."""
    return frozenset(s for s in SCOPES if grants(scopes, s))
