"""The response policy: throttle, quarantine and revoke, audited with the alert; undo."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from keyguard.audit import AuditEvent
from keyguard.errors import IllegalTransition
from keyguard.lifecycle import OPERATOR
from keyguard.monitoring import DEFAULT_POLICY, StoredAlert, load_policy, save_policy, updated
from keyguard.ratelimit.models import RateOverride
from keyguard.runtime import Runtime
from tests.conftest import create_key
from tests.unit.monitoring.online import store, trace


def _enforce(runtime: Runtime, tenant: str = "default", **changes: Any) -> None:
    """Enforcement, the new-network alert's action the only one (unless `changes` say)."""
    changes.setdefault("by_severity", {"high": "notify"})
    changes.setdefault("by_rule", {"new_network": "throttle"})
    policy = updated(DEFAULT_POLICY, mode="enforce", **changes)
    with runtime.sessions.begin() as session:
        save_policy(session, runtime.clock(), OPERATOR.id, tenant, policy)


def _raise(runtime: Runtime) -> tuple[str, StoredAlert]:
    """A key's trace through the detector; its new-network alert (high)."""
    key = create_key(runtime).view
    store(runtime, trace(key.id, key.tenant_id))
    runtime.detector.drain()
    with runtime.sessions() as session:
        alert = session.scalars(select(StoredAlert).where(StoredAlert.rule == "new_network")).one()
        session.expunge(alert)
    return key.id, alert


def _audited(runtime: Runtime, action: str) -> list[AuditEvent]:
    with runtime.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_monitor_only_is_the_default_and_touches_no_key(runtime: Runtime) -> None:
    key_id, alert = _raise(runtime)
    assert (alert.action, alert.planned_action) == ("notify", "throttle")  # high: throttle
    assert runtime.keys.show(OPERATOR, key_id).state == "active"
    assert _audited(runtime, "alert.throttle") == []


def test_a_high_alert_throttles_the_key_for_a_while(runtime: Runtime) -> None:
    _enforce(runtime, throttle_per_minute=5, throttle_seconds=600)
    key_id, alert = _raise(runtime)
    assert (alert.action, alert.action_state) == ("throttle", "done")
    runtime.limits.overrides.load(runtime.sessions)
    assert runtime.limits.overrides.per_minute(key_id, None) == 5
    assert runtime.limits.overrides.per_minute(key_id, 3) == 3  # never raises a limit
    (event,) = _audited(runtime, "alert.throttle")
    assert event.target == key_id
    assert event.data["alert"] == alert.id
    assert event.data["evidence"]["summary"]


def test_a_throttle_expires_on_its_own(runtime: Runtime, clock: Any) -> None:
    from datetime import timedelta

    _enforce(runtime, throttle_seconds=600)
    key_id, _ = _raise(runtime)
    clock.advance(timedelta(seconds=601))
    runtime.limits.overrides.load(runtime.sessions)
    assert runtime.limits.overrides.per_minute(key_id, None) is None


def test_a_throttle_is_undone_by_a_person(runtime: Runtime) -> None:
    _enforce(runtime)
    key_id, alert = _raise(runtime)
    after = runtime.alerts.undo(OPERATOR, alert.id)
    assert after["action_state"] == "undone"
    with runtime.sessions() as session:
        assert session.get(RateOverride, key_id) is None
    assert len(_audited(runtime, "alert.throttle_undone")) == 1


def test_quarantine_suspends_the_key_until_a_person_resumes_it(runtime: Runtime) -> None:
    _enforce(runtime, by_rule={"new_network": "quarantine"})
    key_id, alert = _raise(runtime)
    view = runtime.keys.show(OPERATOR, key_id)
    assert view.state == "suspended"
    assert view.state_reason is not None
    assert f"alert {alert.id}" in view.state_reason
    (suspended,) = _audited(runtime, "key.suspended")
    assert suspended.actor == "monitor:detector"
    (quarantined,) = _audited(runtime, "alert.quarantine")
    assert quarantined.data["rule"] == "new_network"
    runtime.alerts.undo(OPERATOR, alert.id)
    assert runtime.keys.show(OPERATOR, key_id).state == "active"
    assert len(_audited(runtime, "alert.quarantine_undone")) == 1


def test_a_quarantine_interrupted_before_its_record_is_finished_once(runtime: Runtime) -> None:
    _enforce(runtime, by_rule={"new_network": "quarantine"})
    key = create_key(runtime).view
    store(runtime, trace(key.id, key.tenant_id))
    responder = runtime.detector.responder
    run = responder.run_pending
    responder.run_pending = lambda: 0  # type: ignore[method-assign] - the crash: not run yet
    runtime.detector.drain()
    runtime.keys.suspend(OPERATOR, key.id, "a person got there first")
    responder.run_pending = run  # type: ignore[method-assign]
    assert responder.run_pending() == 1
    with runtime.sessions() as session:
        alert = session.scalars(select(StoredAlert).where(StoredAlert.rule == "new_network")).one()
        assert (alert.action, alert.action_state) == ("quarantine", "done")


def test_revoke_revokes_and_cannot_be_undone(runtime: Runtime) -> None:
    _enforce(runtime, by_rule={"new_network": "revoke"})
    key_id, alert = _raise(runtime)
    assert runtime.keys.show(OPERATOR, key_id).state == "revoked"
    assert len(_audited(runtime, "alert.revoke")) == 1
    with pytest.raises(IllegalTransition):
        runtime.alerts.undo(OPERATOR, alert.id)


def test_an_action_on_a_key_gone_meanwhile_is_recorded_as_failed(runtime: Runtime) -> None:
    _enforce(runtime, by_rule={"new_network": "quarantine"})
    key = create_key(runtime).view
    store(runtime, trace(key.id, key.tenant_id))
    responder = runtime.detector.responder
    run = responder.run_pending
    responder.run_pending = lambda: 0  # type: ignore[method-assign]
    runtime.detector.drain()
    runtime.keys.revoke(OPERATOR, key.id)
    responder.run_pending = run  # type: ignore[method-assign]
    responder.run_pending()
    (event,) = _audited(runtime, "alert.quarantine")
    assert event.data["outcome"] == "failed"
    assert responder.actions["quarantine", "failed"] == 1


def test_the_policy_of_another_tenant_does_not_apply(runtime: Runtime) -> None:
    _enforce(runtime, tenant="other")
    _, alert = _raise(runtime)
    assert alert.action == "notify"


def test_a_policy_is_checked_and_its_change_audited(runtime: Runtime) -> None:
    with pytest.raises(Exception, match="unknown action"):
        updated(DEFAULT_POLICY, by_rule={"new_network": "explode"})
    _enforce(runtime, throttle_per_minute=7)
    with runtime.sessions() as session:
        assert load_policy(session, "default").throttle_per_minute == 7
        assert load_policy(session, "other") == DEFAULT_POLICY
    assert len(_audited(runtime, "monitor.policy_set")) == 1
