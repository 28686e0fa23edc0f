"""Acting on alerts: the policy's action decided with the alert, carried out after commit.

The detector stores each alert with its action `pending` in the transaction that advances its
cursor; `Responder.run_pending` then carries the action out — throttle (a rate override,
keyguard.ratelimit), quarantine (the key suspended through the lifecycle service, so the
change feed takes it out of every cache), revoke — and audits it with the alert as evidence.
A crash in between leaves the action pending, and the next round does it (each action is
idempotent: a key already suspended counts as quarantined). A person can undo every action
but revoke.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from keyguard.audit import record
from keyguard.clock import Clock
from keyguard.errors import IllegalTransition, KeyguardError, NotFound
from keyguard.lifecycle import Actor, KeyService
from keyguard.monitoring.alerts import Alert
from keyguard.monitoring.models import StoredAlert
from keyguard.monitoring.policy import load_policy
from keyguard.ratelimit import clear_override, set_override

log = structlog.get_logger("keyguard.monitoring")
DETECTOR: Final = Actor(id="monitor:detector")  # acts like the operator: on any tenant's key
PENDING_BATCH: Final = 100


@dataclass(frozen=True, slots=True)
class Decision:
    action: str
    action_state: str
    planned: str | None


def decide(session: Session, alert: Alert, tenant_id: str | None) -> Decision:
    """What to do about `alert` under its tenant's policy (in the detector's transaction)."""
    policy = load_policy(session, tenant_id)
    wanted = policy.action_for(alert.rule, alert.severity)
    if alert.key_id is None or tenant_id is None:
        return Decision("notify", "done", None)  # a source, not a key: nothing to act on
    if policy.mode != "enforce":
        return Decision("notify", "done", wanted)
    return Decision(wanted, "done" if wanted == "notify" else "pending", wanted)


class Responder:
    """Carries out pending actions and undoes them; counts what it did (for /metrics)."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, keys: KeyService) -> None:
        self._sessions = sessions
        self._clock = clock
        self._keys = keys
        self.actions: Counter[tuple[str, str]] = Counter()  # (action, outcome)

    def run_pending(self) -> int:
        with self._sessions() as session:
            ids = session.scalars(
                select(StoredAlert.id)
                .where(StoredAlert.action_state == "pending")
                .order_by(StoredAlert.id)
                .limit(PENDING_BATCH)
            ).all()
        for alert_id in ids:
            self._carry_out(alert_id)
        return len(ids)

    def _carry_out(self, alert_id: int) -> None:
        with self._sessions() as session:
            alert = session.get(StoredAlert, alert_id)
            if alert is None or alert.action_state != "pending" or alert.key_id is None:
                return
            action, key_id, reason = alert.action, alert.key_id, _reason(alert)
        outcome = "done"
        try:
            if action == "quarantine":
                self._suspend(key_id, reason)
            elif action == "revoke":
                self._revoke(key_id, reason)
        except KeyguardError as error:  # e.g. the key was revoked meanwhile
            outcome = "failed"
            log.warning("alert_action_failed", alert=alert_id, action=action, code=error.code)
        now = self._clock()
        with self._sessions.begin() as session:
            alert = session.get(StoredAlert, alert_id, with_for_update=True)
            if alert is None or alert.action_state != "pending":
                return
            if action == "throttle" and outcome == "done":
                policy = load_policy(session, alert.tenant_id)
                set_override(
                    session, now, key_id=key_id, tenant_id=alert.tenant_id or "",
                    per_minute=policy.throttle_per_minute,
                    until=now + timedelta(seconds=policy.throttle_seconds), reason=reason,
                )  # fmt: skip
            alert.action_state, alert.updated_at = outcome, now
            _audit(session, alert, DETECTOR.id, f"alert.{action}", outcome=outcome)
        self.actions[action, outcome] += 1

    def _suspend(self, key_id: str, reason: str) -> None:
        if self._keys.show(DETECTOR, key_id).state == "suspended":
            return  # done before a crash, or by a person: the quarantine holds
        self._keys.suspend(DETECTOR, key_id, reason)

    def _revoke(self, key_id: str, reason: str) -> None:
        if self._keys.show(DETECTOR, key_id).state == "revoked":
            return
        self._keys.revoke(DETECTOR, key_id, reason)

    def undo(self, actor: Actor, alert: StoredAlert) -> None:
        """Undo `alert`'s throttle or quarantine as `actor` (checked by the lifecycle service
        like any resume); a revocation cannot be undone."""
        if alert.action == "revoke":
            raise IllegalTransition("a revoked key cannot be restored", code="not_undoable")
        if alert.action not in ("throttle", "quarantine") or alert.action_state != "done":
            raise IllegalTransition(f"alert {alert.id} has no action to undo", code="no_action")
        if alert.key_id is None:
            raise NotFound(f"no alert {alert.id}")
        if alert.action == "quarantine":
            self._keys.resume(actor, alert.key_id)
        now = self._clock()
        with self._sessions.begin() as session:
            row = session.get(StoredAlert, alert.id, with_for_update=True)
            if row is None or row.action_state != "done":
                return
            if row.action == "throttle":
                clear_override(session, alert.key_id)
            row.action_state, row.updated_at, row.updated_by = "undone", now, actor.id
            _audit(session, row, actor.id, f"alert.{row.action}_undone")
        self.actions[alert.action, "undone"] += 1


def _reason(alert: StoredAlert) -> str:
    return f"alert {alert.id}: {alert.rule} ({alert.severity})"


def _audit(session: Session, alert: StoredAlert, actor: str, action: str, **extra: str) -> None:
    record(
        session,
        alert.updated_at,
        actor,
        action,
        tenant_id=alert.tenant_id or "",
        target=alert.key_id or "",
        alert=alert.id,
        rule=alert.rule,
        severity=alert.severity,
        evidence=alert.evidence,
        **extra,
    )
