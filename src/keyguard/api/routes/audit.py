"""/v1/audit: the audit events of the caller's tenant and environment, newest first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from keyguard.api.context import Principal, RuntimeDep
from keyguard.api.enforcement import EnforcedRoute, require_scope
from keyguard.audit import AuditEvent, AuditFilter, list_events
from keyguard.errors import InvalidInput

router = APIRouter(route_class=EnforcedRoute, tags=["audit"])


class AuditQuery(BaseModel):
    """Query parameters; unknown ones are refused like unknown JSON fields."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, pattern=r"^[0-9]{1,18}$")
    action: str | None = Field(default=None, max_length=60)
    actor: str | None = Field(default=None, max_length=120)
    target: str | None = Field(default=None, max_length=120)
    since: datetime | None = Field(default=None, description="Inclusive, ISO 8601.")
    until: datetime | None = Field(default=None, description="Exclusive, ISO 8601.")


class AuditEventOut(BaseModel):
    seq: int
    ts: datetime
    tenant: str | None
    actor: str
    action: str
    target: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventOut:
        return cls(
            seq=event.seq,
            ts=event.ts,
            tenant=event.tenant_id,
            actor=event.actor,
            action=event.action,
            target=event.target,
            data=event.data,
            prev_hash=event.prev_hash,
            hash=event.hash,
        )


class AuditPage(BaseModel):
    events: list[AuditEventOut]
    next_cursor: str | None


@router.get("/v1/audit", operation_id="audit_list")
def list_audit(
    principal: Annotated[Principal, require_scope("audit:read")],
    runtime: RuntimeDep,
    query: Annotated[AuditQuery, Query()],
) -> AuditPage:
    """Audit events of the caller's tenant and environment, newest first; follow `next_cursor`.

    Events done by or to keys of another environment are left out."""
    where = AuditFilter(
        action=query.action,
        actor=query.actor,
        target=query.target,
        since=_utc(query.since, "since"),
        until=_utc(query.until, "until"),
    )
    with runtime.sessions() as session:
        events = list_events(
            session,
            principal.key.tenant_id,
            limit=query.limit + 1,
            before_seq=int(query.cursor) if query.cursor else None,
            where=where,
            env=principal.key.env,  # environments are partitioned, the audit log too
        )
    page = events[: query.limit]
    more = len(events) > query.limit
    return AuditPage(
        events=[AuditEventOut.of(e) for e in page],
        next_cursor=str(page[-1].seq) if more else None,
    )


def _utc(value: datetime | None, field: str) -> datetime | None:
    """Naive times are read as UTC; times that cannot be expressed in UTC are refused."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInput(f"{field} is out of range", code="invalid_time", field=field) from None
