"""The seam to notifications: told of each alert inside the transaction that stores it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from keyguard.monitoring.models import StoredAlert


class Notifier(Protocol):
    """Called once per stored alert, in the transaction that inserts it (and advances the
    detector's cursor): what it writes (a webhook outbox row) commits with the alert or not
    at all. It must not do I/O outside the session."""

    def alert_raised(self, session: Session, alert: StoredAlert) -> None: ...


class NoNotifier:
    """The default: nothing beyond the stored alert (webhooks plug in here)."""

    def alert_raised(self, session: Session, alert: StoredAlert) -> None:
        return None
