"""The immutable, cacheable picture of a key that verification decides on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from keyguard.lifecycle import ApiKey
from keyguard.policy import Restrictions


@dataclass(frozen=True, slots=True)
class KeySnapshot:
    id: str
    tenant_id: str
    env: str
    name: str | None
    display_prefix: str
    state: str
    state_reason: str | None
    expires_at: datetime
    grace_until: datetime | None
    scopes: frozenset[str]
    restrictions: Restrictions
    pepper_version: str
    digest: str = field(repr=False)
    # The last use the database knew when the snapshot was loaded (the verifier's tracker
    # knows this process's later ones): what usage events report as `key_last_used_at`.
    last_used_at: datetime | None = None

    @classmethod
    def from_row(cls, row: ApiKey | Row[Any]) -> KeySnapshot:
        """From an ORM object or a Core row of `api_keys` (same attribute names)."""
        return cls(
            id=row.id,
            tenant_id=row.tenant_id,
            env=row.env,
            name=row.name,
            display_prefix=row.display_prefix,
            state=row.state,
            state_reason=row.state_reason,
            expires_at=row.expires_at,
            grace_until=row.grace_until,
            scopes=frozenset(row.scopes),
            restrictions=Restrictions.from_json(row.restrictions),
            pepper_version=row.pepper_version,
            digest=row.digest,
            last_used_at=row.last_used_at,
        )

    def public(self) -> dict[str, Any]:
        """Metadata a gateway may see: never the digest."""
        return {
            "id": self.id,
            "tenant": self.tenant_id,
            "env": self.env,
            "name": self.name,
            "prefix": self.display_prefix,
            "scopes": sorted(self.scopes),
            "expires_at": self.expires_at.isoformat().replace("+00:00", "Z"),
            "restrictions": self.restrictions.to_json(),
        }
