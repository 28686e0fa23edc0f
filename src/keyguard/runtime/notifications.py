"""Who hears of what: the detector's alerts and the incidents' steps reach the tenant's
webhooks and security contacts (keyguard.webhooks), wired here so neither package knows it."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.incidents import IncidentEvent
from keyguard.monitoring import StoredAlert, alert_json
from keyguard.webhooks import EVENT_TYPES, Notifier


class AlertEvents:
    """`alert.raised`, queued in the transaction that stores the alert (so both or neither)."""

    def __init__(self, events: Notifier) -> None:
        self._events = events

    def alert_raised(self, session: Session, alert: StoredAlert) -> None:
        if alert.tenant_id is None:  # about a source, not a tenant's key: the operator's alone
            return
        self._events(session, alert.created_at, alert.tenant_id, "alert.raised", alert_json(alert))


class IncidentEvents:
    """`incident.*` events, told after the incident's commit, queued in a transaction of their
    own. The keys' own `key.revoked` / `key.suspended` were queued by the lifecycle already, in
    the containment's transaction, so they are not repeated here."""

    def __init__(self, events: Notifier, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._events = events
        self._sessions = sessions
        self._clock = clock

    def notify(self, event: IncidentEvent) -> None:
        if not event.type.startswith("incident.") or event.type not in EVENT_TYPES:
            return  # incident.contained is a timeline step, not a published event type
        with self._sessions.begin() as session:
            self._events(session, self._clock(), event.tenant_id, event.type, event.data)
