"""The runtime wires the detector's alerts and the incidents' steps to the tenant's webhooks."""

from __future__ import annotations

from sqlalchemy import select

from keyguard.clock import ManualClock
from keyguard.incidents import OpenRequest
from keyguard.lifecycle import OPERATOR
from keyguard.monitoring import StoredAlert
from keyguard.runtime import Runtime
from keyguard.webhooks.models import WebhookMessage
from tests.conftest import create_key

TYPES = ["alert.raised", "incident.opened", "incident.resolved", "key.revoked"]


def _subscribe(runtime: Runtime) -> None:
    runtime.webhooks.create(OPERATOR, "default", "https://hooks.example.com/in", TYPES)


def _types(runtime: Runtime) -> list[str]:
    with runtime.sessions() as session:
        rows = session.scalars(select(WebhookMessage).order_by(WebhookMessage.created_at))
        return [row.payload["type"] for row in rows]


def _alert(clock: ManualClock, tenant_id: str | None) -> StoredAlert:
    now = clock()
    return StoredAlert(
        tenant_id=tenant_id, env="live", key_id="key_x" if tenant_id else None,
        rule="new_network", severity="high", action="none", action_state="done",
        ts=now, first_event_ts=now, evidence={"network": "203.0.113.0/24"}, event_id=1,
        created_at=now, updated_at=now,
    )  # fmt: skip


def test_an_alert_about_a_tenants_key_is_queued_as_alert_raised(
    runtime: Runtime, clock: ManualClock
) -> None:
    _subscribe(runtime)
    with runtime.sessions.begin() as session:
        alert = _alert(clock, "default")
        session.add(alert)
        session.flush()
        runtime.detector.notifier.alert_raised(session, alert)
    assert _types(runtime) == ["alert.raised"]


def test_an_alert_about_a_source_reaches_no_tenant(runtime: Runtime, clock: ManualClock) -> None:
    _subscribe(runtime)
    with runtime.sessions.begin() as session:
        alert = _alert(clock, None)
        session.add(alert)
        session.flush()
        runtime.detector.notifier.alert_raised(session, alert)
    assert _types(runtime) == []


def test_an_incident_queues_incident_opened_and_its_key_revoked_once(
    runtime: Runtime, clock: ManualClock
) -> None:
    _subscribe(runtime)
    key = create_key(runtime, scopes=["mail:send"])
    runtime.incidents.open(OPERATOR, OpenRequest(key_id=key.view.id, reason="leaked in a gist"))
    assert sorted(_types(runtime)) == ["incident.opened", "key.revoked"]
