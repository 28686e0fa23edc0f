"""What callers see of a key: public metadata only, never the key or its digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from keyguard.keys import Environment, RawKey
from keyguard.lifecycle.states import State
from keyguard.policy import Restrictions


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs an action. An operator (local CLI) has no limits; a key has its own."""

    id: str
    tenant_id: str | None = None
    scopes: frozenset[str] | None = None
    env: Environment | None = None
    restrictions: Restrictions | None = None
    expires_at: datetime | None = None

    @property
    def is_operator(self) -> bool:
        return self.scopes is None

    def sees(self, tenant_id: str, env: str) -> bool:
        """Whether a thing of this tenant and environment exists for this actor: another
        tenant's or environment's looks exactly like a missing one (NotFound, never 403)."""
        return (self.tenant_id is None or tenant_id == self.tenant_id) and (
            self.env is None or env == self.env
        )


OPERATOR = Actor(id="operator:cli")


@dataclass(frozen=True, slots=True)
class KeyView:
    id: str
    tenant_id: str
    name: str | None
    env: Environment
    display_prefix: str
    scopes: tuple[str, ...]
    restrictions: Restrictions
    state: State
    state_reason: str | None
    created_at: datetime
    expires_at: datetime
    grace_until: datetime | None
    last_used_at: datetime | None
    created_by: str
    parent_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant_id,
            "name": self.name,
            "env": self.env,
            "prefix": self.display_prefix,
            "scopes": list(self.scopes),
            "restrictions": self.restrictions.to_json(),
            "state": self.state,
            "state_reason": self.state_reason,
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.expires_at),
            "grace_until": _iso(self.grace_until),
            "last_used_at": _iso(self.last_used_at),
            "created_by": self.created_by,
            "parent_id": self.parent_id,
        }


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """The only object that carries a new key's plaintext, for the one-time display."""

    view: KeyView
    key: RawKey


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
