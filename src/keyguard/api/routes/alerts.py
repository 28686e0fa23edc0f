"""/v1/alerts: what the online detector raised about the caller's keys (alerts:read), and a
person's answer to it (alerts:write): acknowledge, resolve, false positive, undo the action.

Thin routes over keyguard.monitoring.AlertService, within the caller's tenant and
environment: another partition's alert is `not_found`; key-less alerts (guessing, sprays
from one address) are the operator's, through the CLI.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from keyguard.api.context import Principal, RuntimeDep
from keyguard.api.documented import CONFLICT, NOT_FOUND
from keyguard.api.enforcement import EnforcedRoute, require_scope
from keyguard.monitoring import AlertFilter

router = APIRouter(route_class=EnforcedRoute, tags=["alerts"])

Reader = Annotated[Principal, require_scope("alerts:read")]
Writer = Annotated[Principal, require_scope("alerts:write")]
AlertId = Annotated[int, Path(ge=1, le=2**62)]


class AlertsQuery(BaseModel):
    """Query parameters; unknown ones are refused like unknown JSON fields."""

    model_config = ConfigDict(extra="forbid")

    key_id: str | None = Field(default=None, pattern=r"^key_[0-9A-Za-z]{1,36}$")
    rule: str | None = Field(default=None, max_length=40)
    severity: Literal["info", "low", "medium", "high", "critical"] | None = None
    state: Literal["open", "acknowledged", "resolved", "false_positive"] | None = None
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, pattern=r"^[0-9]{1,18}$")


class AlertOut(BaseModel):
    """The PRODUCT.md alert with its id, partition and where a person took it."""

    id: int
    ts: str
    key_id: str | None
    rule: str
    severity: str
    action: str = Field(description="What was done: notify, throttle, quarantine or revoke.")
    first_event_ts: str
    evidence: dict[str, Any]
    tenant: str | None
    env: str | None
    state: str
    action_state: str = Field(description="pending, done, failed or undone.")
    planned_action: str | None = Field(
        description="What the policy calls for (in monitor-only mode: what it would do)."
    )
    updated_at: str
    updated_by: str | None


class AlertPage(BaseModel):
    alerts: list[AlertOut]
    next_cursor: str | None


@router.get("/v1/alerts", operation_id="alerts_list")
def list_alerts(
    principal: Reader, runtime: RuntimeDep, query: Annotated[AlertsQuery, Query()]
) -> AlertPage:
    """Alerts about the caller's partition's keys, newest first; follow `next_cursor`."""
    where = AlertFilter(
        key_id=query.key_id, rule=query.rule, severity=query.severity, state=query.state
    )
    found = runtime.alerts.list(
        principal.actor,
        where,
        limit=query.limit + 1,
        before=int(query.cursor) if query.cursor else None,
    )
    page = found[: query.limit]
    more = len(found) > query.limit
    return AlertPage(
        alerts=[AlertOut.model_validate(a) for a in page],
        next_cursor=str(page[-1]["id"]) if more else None,
    )


@router.get("/v1/alerts/{alert_id}", operation_id="alerts_get", responses=NOT_FOUND)
def get_alert(alert_id: AlertId, principal: Reader, runtime: RuntimeDep) -> AlertOut:
    """One alert."""
    return AlertOut.model_validate(runtime.alerts.show(principal.actor, alert_id))


@router.post(
    "/v1/alerts/{alert_id}/ack", operation_id="alerts_ack", responses={**NOT_FOUND, **CONFLICT}
)
def ack_alert(alert_id: AlertId, principal: Writer, runtime: RuntimeDep) -> AlertOut:
    """Acknowledge an open alert: someone is looking."""
    return AlertOut.model_validate(runtime.alerts.move(principal.actor, alert_id, "acknowledged"))


@router.post(
    "/v1/alerts/{alert_id}/resolve",
    operation_id="alerts_resolve",
    responses={**NOT_FOUND, **CONFLICT},
)
def resolve_alert(alert_id: AlertId, principal: Writer, runtime: RuntimeDep) -> AlertOut:
    """Resolve an alert (open or acknowledged)."""
    return AlertOut.model_validate(runtime.alerts.move(principal.actor, alert_id, "resolved"))


@router.post(
    "/v1/alerts/{alert_id}/false-positive",
    operation_id="alerts_false_positive",
    responses={**NOT_FOUND, **CONFLICT},
)
def false_positive(alert_id: AlertId, principal: Writer, runtime: RuntimeDep) -> AlertOut:
    """Mark an alert a false positive: the detector learns what its event came from (network,
    country, client, sender) into the key's and the tenant's baseline."""
    moved = runtime.alerts.move(principal.actor, alert_id, "false_positive")
    return AlertOut.model_validate(moved)


@router.post(
    "/v1/alerts/{alert_id}/undo", operation_id="alerts_undo", responses={**NOT_FOUND, **CONFLICT}
)
def undo_alert(alert_id: AlertId, principal: Writer, runtime: RuntimeDep) -> AlertOut:
    """Undo the alert's throttle or quarantine (a revocation cannot be undone); resuming a
    quarantined key needs what resuming it directly needs."""
    return AlertOut.model_validate(runtime.alerts.undo(principal.actor, alert_id))
