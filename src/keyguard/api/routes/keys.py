"""/v1/keys: the key lifecycle for keys acting through the API (keys:read / keys:write).

The caller's Principal becomes the lifecycle Actor, so the service applies its rules: a key
sees only its own tenant and environment, and never hands out more than it holds.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from keyguard.api.context import Principal, RuntimeDep
from keyguard.api.documented import CONFLICT, JSON_BODY, NOT_FOUND
from keyguard.api.enforcement import EnforcedRoute, require_scope
from keyguard.api.schemas import CreatedKeyOut, KeyOut
from keyguard.errors import InvalidInput, NotFound
from keyguard.lifecycle import DEFAULT_GRACE, CreatedKey, KeySpec
from keyguard.policy import build_restrictions, parse_duration
from keyguard.rotation import rotate_handed_out

router = APIRouter(route_class=EnforcedRoute, tags=["keys"])

Reader = Annotated[Principal, require_scope("keys:read")]
Writer = Annotated[Principal, require_scope("keys:write")]
KeyId = Annotated[str, Path(pattern=r"^key_[0-9A-Za-z]{1,36}$", examples=["key_3xK9aB7cD1eF2gH4"])]
Duration = Annotated[str, Field(min_length=2, max_length=12, examples=["90d", "24h"])]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RestrictionsIn(_Strict):
    allowed_cidrs: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=100
    )
    sender_domains: list[Annotated[str, Field(max_length=253)]] = Field(
        default_factory=list, max_length=100
    )
    recipients: list[Annotated[str, Field(max_length=320)]] = Field(
        default_factory=list, max_length=1000
    )
    daily_quota: int | None = Field(default=None, gt=0, le=10**9)
    rate_limit_per_minute: int | None = Field(default=None, gt=0, le=10**6)


class CreateKey(_Strict):
    env: Literal["live", "test", "dev"] | None = Field(
        default=None, description="Defaults to the calling key's environment."
    )
    scopes: list[Annotated[str, Field(max_length=40)]] = Field(min_length=1, max_length=50)
    name: str | None = Field(default=None, max_length=200)
    expires_in: Duration | None = None
    restrictions: RestrictionsIn = Field(default_factory=RestrictionsIn)


class RotateKey(_Strict):
    grace: Duration | None = Field(
        default=None, description="How long the old key keeps working (default 24h)."
    )


class Reason(_Strict):
    reason: str | None = Field(default=None, max_length=500)


class KeyPage(BaseModel):
    keys: list[KeyOut]
    next_cursor: str | None


@router.post("/v1/keys", operation_id="keys_create", responses=JSON_BODY, status_code=201)
def create_key(body: CreateKey, principal: Writer, runtime: RuntimeDep) -> CreatedKeyOut:
    """Create a key within the caller's powers. The key is in this answer and nowhere else."""
    spec = KeySpec(
        tenant_id=principal.key.tenant_id,
        env=body.env or principal.key.env,
        scopes=body.scopes,
        restrictions=build_restrictions(**body.restrictions.model_dump()),
        expires_in=_duration(body.expires_in, "expires_in"),
        name=body.name,
    )
    return _created(runtime.keys.create(principal.actor, spec))


@router.get("/v1/keys", operation_id="keys_list")
def list_keys(
    principal: Reader,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> KeyPage:
    """Keys of the caller's tenant and environment, oldest first; follow `next_cursor`."""
    try:
        views = runtime.keys.list(principal.actor, limit=limit + 1, after=cursor)
    except NotFound:
        raise InvalidInput("unknown cursor", code="invalid_cursor", field="cursor") from None
    page = views[:limit]
    more = len(views) > limit
    return KeyPage(keys=[KeyOut.of(v) for v in page], next_cursor=page[-1].id if more else None)


@router.get("/v1/keys/{key_id}", operation_id="keys_get", responses=NOT_FOUND)
def get_key(key_id: KeyId, principal: Reader, runtime: RuntimeDep) -> KeyOut:
    """One key's metadata."""
    return KeyOut.of(runtime.keys.show(principal.actor, key_id))


@router.post(
    "/v1/keys/{key_id}/rotate",
    operation_id="keys_rotate",
    responses={**NOT_FOUND, **CONFLICT, **JSON_BODY},
    status_code=201,
)
def rotate_key(
    key_id: KeyId, principal: Writer, runtime: RuntimeDep, body: RotateKey | None = None
) -> CreatedKeyOut:
    """Issue a successor (returned once); the old key works until the grace period ends."""
    text = (body or RotateKey()).grace
    grace = DEFAULT_GRACE if text is None else parse_duration(text, field="grace")
    return _created(
        rotate_handed_out(runtime.keys, runtime.sessions, principal.actor, key_id, grace)
    )


@router.post(
    "/v1/keys/{key_id}/revoke",
    operation_id="keys_revoke",
    responses={**NOT_FOUND, **CONFLICT, **JSON_BODY},
)
def revoke_key(
    key_id: KeyId, principal: Writer, runtime: RuntimeDep, body: Reason | None = None
) -> KeyOut:
    """Revoke a key at once; this cannot be undone."""
    return KeyOut.of(runtime.keys.revoke(principal.actor, key_id, body.reason if body else None))


@router.post(
    "/v1/keys/{key_id}/suspend",
    operation_id="keys_suspend",
    responses={**NOT_FOUND, **CONFLICT, **JSON_BODY},
)
def suspend_key(
    key_id: KeyId, principal: Writer, runtime: RuntimeDep, body: Reason | None = None
) -> KeyOut:
    """Suspend a key until it is resumed."""
    return KeyOut.of(runtime.keys.suspend(principal.actor, key_id, body.reason if body else None))


@router.post(
    "/v1/keys/{key_id}/resume", operation_id="keys_resume", responses={**NOT_FOUND, **CONFLICT}
)
def resume_key(key_id: KeyId, principal: Writer, runtime: RuntimeDep) -> KeyOut:
    """Resume a suspended key."""
    return KeyOut.of(runtime.keys.resume(principal.actor, key_id))


def _duration(text: str | None, field: str) -> timedelta | None:
    return parse_duration(text, field=field) if text is not None else None


def _created(created: CreatedKey) -> CreatedKeyOut:
    view = KeyOut.of(created.view)
    return CreatedKeyOut(**view.model_dump(), key=created.key.reveal())  # the one-time display
