"""The roles of people, as the API's own scopes: one table, read by the dashboard's checks.

A signed-in user acts as a lifecycle Actor holding its role's scopes, so the dashboard goes
through the same services and the same no-escalation rules as a key: a developer cannot make
a key with `webhooks:write`, because a key never receives a scope its creator lacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

from keyguard.errors import InvalidInput
from keyguard.policy import ALL_SCOPES

RoleName = Literal["owner", "admin", "developer", "viewer"]
ROLE_NAMES: Final[tuple[str, ...]] = get_args(RoleName)

_MAIL: Final = (
    "mail:*", "contacts:*", "lists:*", "campaigns:*", "templates:*", "stats:*",
    "suppressions:*", "sandbox:*",
)  # fmt: skip
_READ: Final = ("keys:read", "alerts:read", "audit:read", "stats:read")


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    scopes: frozenset[str]
    manages: frozenset[str]  # the roles this role may give, change or take away
    summary: str


ROLES: Final[dict[str, Role]] = {
    "owner": Role(
        "owner", frozenset(ALL_SCOPES), frozenset(ROLE_NAMES),
        "everything, including adding and removing owners",
    ),
    "admin": Role(
        "admin", frozenset(ALL_SCOPES), frozenset({"admin", "developer", "viewer"}),
        "every key, alert, incident, webhook and contact; users except owners",
    ),
    "developer": Role(
        "developer",
        frozenset({*_MAIL, *_READ, "keys:write", "keys:verify", "alerts:write"}),
        frozenset(),
        "create, rotate, revoke keys with mail scopes; answer alerts; no webhooks, no users",
    ),
    "viewer": Role("viewer", frozenset(_READ), frozenset(), "read keys, alerts, audit, usage"),
}  # fmt: skip


def role(name: str) -> Role:
    try:
        return ROLES[name]
    except KeyError:
        raise InvalidInput(
            f"unknown role {name!r} (one of {', '.join(ROLE_NAMES)})",
            code="unknown_role",
            field="role",
        ) from None
