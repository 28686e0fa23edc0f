"""Scheduled rotation: delivered keys older than their maximum age are rotated into their vault.

A key is due when it has a rotation policy (`rotate_every`, set with `--rotate-every`) and
either it is that old, or it would expire before a successor's grace window could run its
course. Keys that were never delivered are not rotated on a schedule: a successor nobody
receives would only break the consumer when the grace window ends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.errors import KeyguardError
from keyguard.lifecycle import ApiKey
from keyguard.rotation.models import INTENT_OPEN, KeyDelivery, RotationIntent
from keyguard.rotation.service import SYSTEM, Delivered, Reconciled, RotationService

# stdlib logging: silent at INFO in CLI commands (whose stdout may be JSON), JSON lines
# under `keyguard serve` (keyguard.logging.configure_logging).
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DueKey:
    key_id: str
    target: str
    due_at: datetime
    reason: str  # "max_age" or "expiry"


@dataclass
class ScheduleReport:
    reconciled: list[Reconciled] = field(default_factory=list)
    rotated: list[Delivered] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key id, error code: message)


def due_keys(session: Session, now: datetime) -> list[DueKey]:
    """Active delivered keys whose policy says rotate now, oldest due first."""
    rows = session.execute(
        select(KeyDelivery, ApiKey)
        .join(ApiKey, ApiKey.id == KeyDelivery.key_id)
        .where(ApiKey.state == "active", KeyDelivery.rotate_every_seconds.is_not(None))
    ).all()
    in_flight = set(
        session.scalars(
            select(RotationIntent.old_key_id).where(RotationIntent.state == INTENT_OPEN)
        )
    )
    due = [
        item
        for delivery, key in rows
        if key.id not in in_flight and key.expires_at > now
        if (item := _due(delivery, key)) is not None and item.due_at <= now
    ]
    return sorted(due, key=lambda item: item.due_at)


def _due(delivery: KeyDelivery, key: ApiKey) -> DueKey | None:
    if delivery.rotate_every_seconds is None:
        return None
    by_age = key.created_at + timedelta(seconds=delivery.rotate_every_seconds)
    # A successor must be delivered a full grace window before the key expires.
    by_expiry = key.expires_at - timedelta(seconds=delivery.grace_seconds)
    if by_age <= by_expiry:
        return DueKey(key.id, delivery.target, by_age, "max_age")
    return DueKey(key.id, delivery.target, by_expiry, "expiry")


class Scheduler:
    """One round: reconcile interrupted deliveries, then rotate every due key."""

    def __init__(
        self, service: RotationService, sessions: sessionmaker[Session], clock: Clock
    ) -> None:
        self.service = service
        self._sessions = sessions
        self._clock = clock
        self.rounds = 0

    def due(self) -> list[DueKey]:
        with self._sessions() as session:
            return due_keys(session, self._clock())

    def run_once(self) -> ScheduleReport:
        self.rounds += 1
        report = ScheduleReport(reconciled=self.service.reconcile())
        for item in self.due():
            try:
                report.rotated.append(self.service.rotate_delivered(SYSTEM, item.key_id))
            except KeyguardError as exc:
                # One key's vault being unreachable must not stop the others.
                report.failed.append((item.key_id, f"{exc.code}: {exc.message}"))
                log.warning(
                    "rotation.scheduled_failed", extra={"key_id": item.key_id, "error": exc.code}
                )
        if report.rotated or report.failed or report.reconciled:
            log.info(
                "rotation.scheduled",
                extra={
                    "rotated": len(report.rotated),
                    "failed": len(report.failed),
                    "reconciled": len(report.reconciled),
                },
            )
        return report
