"""Response bodies shared by several routes: public key metadata, never a digest."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from keyguard.lifecycle import KeyView, State
from keyguard.policy import Restrictions
from keyguard.verification import KeySnapshot


class RestrictionsOut(BaseModel):
    allowed_cidrs: list[str]
    sender_domains: list[str]
    recipients: list[str]
    daily_quota: int | None
    rate_limit_per_minute: int | None

    @classmethod
    def of(cls, restrictions: Restrictions) -> RestrictionsOut:
        return cls.model_validate(restrictions.to_json())


class KeyPublic(BaseModel):
    """What a gateway learns about a verified key."""

    id: str
    tenant: str
    env: str
    name: str | None
    prefix: str
    scopes: list[str]
    expires_at: datetime
    restrictions: RestrictionsOut

    @classmethod
    def of(cls, key: KeySnapshot) -> KeyPublic:
        return cls(
            id=key.id,
            tenant=key.tenant_id,
            env=key.env,
            name=key.name,
            prefix=key.display_prefix,
            scopes=sorted(key.scopes),
            expires_at=key.expires_at,
            restrictions=RestrictionsOut.of(key.restrictions),
        )


class KeyOut(BaseModel):
    """A key's metadata as the management API shows it."""

    id: str
    tenant: str
    name: str | None
    env: str
    prefix: str
    scopes: list[str]
    restrictions: RestrictionsOut
    state: State
    state_reason: str | None
    created_at: datetime
    expires_at: datetime
    grace_until: datetime | None
    last_used_at: datetime | None
    created_by: str
    parent_id: str | None

    @classmethod
    def of(cls, view: KeyView) -> KeyOut:
        return cls(
            id=view.id,
            tenant=view.tenant_id,
            name=view.name,
            env=view.env,
            prefix=view.display_prefix,
            scopes=list(view.scopes),
            restrictions=RestrictionsOut.of(view.restrictions),
            state=view.state,
            state_reason=view.state_reason,
            created_at=view.created_at,
            expires_at=view.expires_at,
            grace_until=view.grace_until,
            last_used_at=view.last_used_at,
            created_by=view.created_by,
            parent_id=view.parent_id,
        )


class CreatedKeyOut(KeyOut):
    """Returned once, by create and rotate: `key` is never shown again."""

    key: str
