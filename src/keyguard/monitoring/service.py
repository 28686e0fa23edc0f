"""Stored alerts for people: list them, take them (ack, resolve, false positive), undo actions.

Partitioned like keys: an actor with a tenant and environment (a key acting through the API)
sees only alerts about its partition's keys; the local operator sees all, the key-less ones
(guessing, sprays) included. Another partition's alert looks exactly like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from keyguard.audit import record
from keyguard.clock import Clock
from keyguard.errors import IllegalTransition, NotFound
from keyguard.lifecycle import Actor
from keyguard.monitoring.models import StoredAlert
from keyguard.monitoring.response import Responder
from keyguard.usage import iso

STATES: Final[tuple[str, ...]] = ("open", "acknowledged", "resolved", "false_positive")
# Where a person may take an alert from each state; resolved and false positive are final.
_MOVES: Final[dict[str, tuple[str, ...]]] = {
    "acknowledged": ("open",),
    "resolved": ("open", "acknowledged"),
    "false_positive": ("open", "acknowledged"),
}
MAX_PAGE: Final = 500


@dataclass(frozen=True, slots=True)
class AlertFilter:
    key_id: str | None = None
    rule: str | None = None
    severity: str | None = None
    state: str | None = None


class AlertService:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, responder: Responder) -> None:
        self._sessions = sessions
        self._clock = clock
        self._responder = responder

    def list(
        self, actor: Actor, where: AlertFilter, *, limit: int = 100, before: int | None = None
    ) -> list[dict[str, Any]]:
        """Alerts newest first (ids below `before`, the cursor), as JSON."""
        query = select(StoredAlert).order_by(StoredAlert.id.desc()).limit(min(limit, MAX_PAGE))
        query = _partition(query, actor)
        for column, value in (
            (StoredAlert.key_id, where.key_id),
            (StoredAlert.rule, where.rule),
            (StoredAlert.severity, where.severity),
            (StoredAlert.state, where.state),
        ):
            if value is not None:
                query = query.where(column == value)
        if before is not None:
            query = query.where(StoredAlert.id < before)
        with self._sessions() as session:
            return [to_json(row) for row in session.scalars(query)]

    def show(self, actor: Actor, alert_id: int) -> dict[str, Any]:
        with self._sessions() as session:
            return to_json(_get(session, actor, alert_id))

    def move(self, actor: Actor, alert_id: int, state: str) -> dict[str, Any]:
        """Acknowledge, resolve or mark false positive (the detector then learns the
        triggering event into the key's baseline); audited."""
        now = self._clock()
        with self._sessions.begin() as session:
            row = _get(session, actor, alert_id, for_update=True)
            if row.state not in _MOVES[state]:
                raise IllegalTransition(f"alert {alert_id} is {row.state}; cannot become {state}")
            row.state, row.updated_at, row.updated_by = state, now, actor.id
            record(
                session, now, actor.id, f"alert.{state}", tenant_id=row.tenant_id or "",
                target=row.key_id or f"alert:{row.id}", alert=row.id, rule=row.rule,
            )  # fmt: skip
            return to_json(row)

    def undo(self, actor: Actor, alert_id: int) -> dict[str, Any]:
        """Lift the throttle or quarantine `alert_id` caused (never a revocation)."""
        with self._sessions() as session:
            row = _get(session, actor, alert_id)
            session.expunge(row)
        self._responder.undo(actor, row)
        return self.show(actor, alert_id)


def _partition(query: Any, actor: Actor) -> Any:
    if actor.tenant_id is not None:
        query = query.where(StoredAlert.tenant_id == actor.tenant_id)
    if actor.env is not None:
        query = query.where(StoredAlert.env == actor.env)
    return query


def _get(session: Session, actor: Actor, alert_id: int, *, for_update: bool = False) -> StoredAlert:
    query = _partition(select(StoredAlert).where(StoredAlert.id == alert_id), actor)
    if for_update:
        query = query.with_for_update()
    row: StoredAlert | None = session.scalars(query).one_or_none()
    if row is None:
        raise NotFound(f"no alert {alert_id}")
    return row


def to_json(row: StoredAlert) -> dict[str, Any]:
    """The PRODUCT.md alert, with the stored alert's id, partition and state."""
    return {
        "id": row.id,
        "ts": iso(row.ts),
        "key_id": row.key_id,
        "rule": row.rule,
        "severity": row.severity,
        "action": row.action,
        "first_event_ts": iso(row.first_event_ts),
        "evidence": row.evidence,
        "tenant": row.tenant_id,
        "env": row.env,
        "state": row.state,
        "action_state": row.action_state,
        "planned_action": row.planned_action,
        "updated_at": iso(row.updated_at),
        "updated_by": row.updated_by,
    }
