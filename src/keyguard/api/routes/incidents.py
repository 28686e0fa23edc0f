"""/v1/incidents: compromise response for keys acting through the API (keys:read/keys:write),
and the tenant-wide response (/v1/tenant/keys/revoke|rotate, keys:write) for a tenant's
operators. The caller's Principal becomes the Actor: its tenant and environment only, and
never a key with more powers than its own."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from keyguard.api.context import Principal, RuntimeDep
from keyguard.api.documented import CONFLICT, JSON_BODY, NOT_FOUND
from keyguard.api.enforcement import EnforcedRoute, require_scope
from keyguard.incidents import BulkResult, IncidentView, OpenRequest, Selector
from keyguard.lifecycle import DEFAULT_GRACE
from keyguard.policy import parse_duration

router = APIRouter(route_class=EnforcedRoute, tags=["incidents"])

Reader = Annotated[Principal, require_scope("keys:read")]
Writer = Annotated[Principal, require_scope("keys:write")]
IncidentId = Annotated[str, Path(pattern=r"^inc_[0-9A-Za-z]{1,36}$")]
Text = Annotated[str, Field(max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenIncident(_Strict):
    key_id: str = Field(pattern=r"^key_[0-9A-Za-z]{1,36}$")
    reason: Text = Field(min_length=1)
    response: Literal["revoke", "quarantine"] = "revoke"
    reissue: bool = False
    deliver: str | None = Field(
        default=None, max_length=300, description="With reissue: the vault secret to write to."
    )
    cascade: bool = False
    owner: str | None = Field(default=None, max_length=200)


class Contain(_Strict):
    note: Text | None = None
    cascade: bool = False
    revoke: bool = False


class Resolve(_Strict):
    note: Text | None = None
    resume: bool = False


class NoteIn(_Strict):
    note: Text = Field(min_length=1)


class OwnerIn(_Strict):
    owner: str = Field(min_length=1, max_length=200)


class StepOut(BaseModel):
    ts: datetime
    actor: str
    kind: str
    key_id: str | None
    note: str | None
    data: dict[str, Any]


class IncidentOut(BaseModel):
    id: str
    tenant: str
    env: str
    key_id: str
    state: Literal["open", "contained", "resolved"]
    response: Literal["revoke", "quarantine"]
    reason: str
    source: str
    source_url: str | None
    owner: str | None
    opened_by: str
    opened_at: datetime
    contained_at: datetime | None
    resolved_at: datetime | None
    successor_id: str | None
    blast_radius: list[str] | None = None
    timeline: list[StepOut] | None = None

    @classmethod
    def of(cls, view: IncidentView, *, steps: bool = True) -> IncidentOut:
        return cls.model_validate(view.to_json(steps=steps))


class SuccessorOut(BaseModel):
    id: str
    delivered_to: str | None = None
    key: str | None = Field(default=None, description="Shown once; absent when delivered.")

    @model_serializer(mode="wrap")
    def _without_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`key` absent, not null, for a successor delivered into a vault (PRODUCT.md)."""
        return {k: v for k, v in handler(self).items() if v is not None}


class OpenedOut(IncidentOut):
    stopped: list[str]
    successor: SuccessorOut | None
    reissue_error: str | None = None


class IncidentPage(BaseModel):
    incidents: list[IncidentOut]


class TenantWide(_Strict):
    all: bool = False
    env: Literal["live", "test", "dev"] | None = None
    created_before: AwareDatetime | None = None
    scope: str | None = Field(default=None, max_length=40)
    dry_run: bool = True


class TenantRevoke(TenantWide):
    reason: Text | None = None


class TenantRotate(TenantWide):
    grace: str | None = Field(default=None, min_length=2, max_length=12, examples=["24h"])


class PlannedOut(BaseModel):
    id: str
    env: str
    name: str | None
    prefix: str
    state: str
    scopes: list[str]
    action: Literal["revoke", "rotate_vault", "rotate_handed_out"]
    target: str | None = None
    successor_id: str | None = None
    successor_key: str | None = None
    error: str | None = None


class BulkOut(BaseModel):
    selector: dict[str, Any]
    dry_run: bool
    count: int
    keys: list[PlannedOut]

    @classmethod
    def of(cls, result: BulkResult) -> BulkOut:
        return cls.model_validate(result.to_json())


@router.post(
    "/v1/incidents",
    operation_id="incidents_open",
    responses={**NOT_FOUND, **CONFLICT, **JSON_BODY},
    status_code=201,
)
def open_incident(body: OpenIncident, principal: Writer, runtime: RuntimeDep) -> OpenedOut:
    """Open an incident: the key is refused everywhere at once (and, with `cascade`, every key
    it made); with `reissue` a successor with the same powers and name is delivered into the
    key's vault or returned once, here."""
    request = OpenRequest(
        key_id=body.key_id,
        reason=body.reason,
        quarantine=body.response == "quarantine",
        reissue=body.reissue,
        deliver=body.deliver,
        cascade=body.cascade,
        owner=body.owner,
    )
    return OpenedOut.model_validate(runtime.incidents.open(principal.actor, request).to_json())


@router.get("/v1/incidents", operation_id="incidents_list")
def list_incidents(
    principal: Reader,
    runtime: RuntimeDep,
    state: Literal["open", "contained", "resolved"] | None = None,
    key_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> IncidentPage:
    """The caller's tenant's incidents in its environment, newest first."""
    views = runtime.incidents.list(principal.actor, state=state, key_id=key_id, limit=limit)
    return IncidentPage(incidents=[IncidentOut.of(v, steps=False) for v in views])


@router.get("/v1/incidents/{incident_id}", operation_id="incidents_get", responses=NOT_FOUND)
def get_incident(incident_id: IncidentId, principal: Reader, runtime: RuntimeDep) -> IncidentOut:
    """One incident with its timeline."""
    return IncidentOut.of(runtime.incidents.show(principal.actor, incident_id))


@router.post(
    "/v1/incidents/{incident_id}/contain",
    operation_id="incidents_contain",
    responses={**NOT_FOUND, **CONFLICT, **JSON_BODY},
)
def contain_incident(
    incident_id: IncidentId, principal: Writer, runtime: RuntimeDep, body: Contain | None = None
) -> IncidentOut:
    """Mark the incident contained (optionally revoking a quarantined key, or the blast radius)."""
    body = body or Contain()
    view = runtime.incidents.contain(
        principal.actor, incident_id, note=body.note, cascade=body.cascade, revoke=body.revoke
    )
    return IncidentOut.of(view)


@router.post(
    "/v1/incidents/{incident_id}/resolve",
    operation_id="incidents_resolve",
    responses={**NOT_FOUND, **CONFLICT, **JSON_BODY},
)
def resolve_incident(
    incident_id: IncidentId, principal: Writer, runtime: RuntimeDep, body: Resolve | None = None
) -> IncidentOut:
    """Close the incident; `resume` gives a quarantined key back."""
    body = body or Resolve()
    view = runtime.incidents.resolve(
        principal.actor, incident_id, note=body.note, resume=body.resume
    )
    return IncidentOut.of(view)


@router.post(
    "/v1/incidents/{incident_id}/notes",
    operation_id="incidents_note",
    responses={**NOT_FOUND, **JSON_BODY},
    status_code=201,
)
def add_note(
    incident_id: IncidentId, body: NoteIn, principal: Writer, runtime: RuntimeDep
) -> IncidentOut:
    """Add a note to the timeline (a pasted key is stored masked)."""
    return IncidentOut.of(runtime.incidents.note(principal.actor, incident_id, body.note))


@router.put(
    "/v1/incidents/{incident_id}/owner",
    operation_id="incidents_assign",
    responses={**NOT_FOUND, **CONFLICT, **JSON_BODY},
)
def assign_owner(
    incident_id: IncidentId, body: OwnerIn, principal: Writer, runtime: RuntimeDep
) -> IncidentOut:
    """Give the incident an owner."""
    return IncidentOut.of(runtime.incidents.assign(principal.actor, incident_id, body.owner))


@router.post("/v1/tenant/keys/revoke", operation_id="tenant_keys_revoke", responses=JSON_BODY)
def revoke_tenant_keys(body: TenantRevoke, principal: Writer, runtime: RuntimeDep) -> BulkOut:
    """Revoke every key of the caller's tenant and environment the filters choose, in one
    transaction. `dry_run` (the default) lists them and changes nothing."""
    result = runtime.tenant_response.revoke(
        principal.actor, _selector(body, principal), reason=body.reason, dry_run=body.dry_run
    )
    return BulkOut.of(result)


@router.post("/v1/tenant/keys/rotate", operation_id="tenant_keys_rotate", responses=JSON_BODY)
def rotate_tenant_keys(body: TenantRotate, principal: Writer, runtime: RuntimeDep) -> BulkOut:
    """Rotate every active key the filters choose, each as it was issued (into its vault, or
    the successor returned once, here). `dry_run` (the default) lists them."""
    grace = parse_duration(body.grace, field="grace") if body.grace else DEFAULT_GRACE
    result = runtime.tenant_response.rotate(
        principal.actor, _selector(body, principal), grace=grace, dry_run=body.dry_run
    )
    return BulkOut.of(result)


def _selector(body: TenantWide, principal: Principal) -> Selector:
    return Selector(
        tenant_id=principal.key.tenant_id,
        all=body.all,
        env=body.env,
        created_before=body.created_before,
        scope=body.scope,
    )
