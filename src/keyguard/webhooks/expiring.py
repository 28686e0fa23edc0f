"""`key.expiring`: emitted once per key, N days before it expires, by a periodic scan."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.lifecycle import ApiKey, EventSink
from keyguard.webhooks.events import emit
from keyguard.webhooks.models import ExpiryNotice

MAX_PER_SCAN = 1000


class ExpiryScan:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        days: int = 7,
        events: EventSink = emit,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._events = events
        self.window = timedelta(days=days)

    def run(self) -> int:
        """Emit `key.expiring` for active keys expiring within the window and not told yet."""
        now = self._clock()
        noticed = select(ExpiryNotice.key_id)
        query = (
            select(ApiKey)
            .where(
                ApiKey.state == "active",
                ApiKey.expires_at > now,
                ApiKey.expires_at <= now + self.window,
                ApiKey.id.not_in(noticed),
            )
            .order_by(ApiKey.expires_at, ApiKey.id)
            .limit(MAX_PER_SCAN)
        )
        with self._sessions.begin() as session:
            keys = list(session.scalars(query))
            for key in keys:
                self._events(session, now, key.tenant_id, "key.expiring", expiring(key))
                session.add(ExpiryNotice(key_id=key.id, emitted_at=now))
        return len(keys)


def expiring(key: ApiKey) -> dict[str, object]:
    return {
        "key_id": key.id,
        "tenant_id": key.tenant_id,
        "env": key.env,
        "name": key.name,
        "expires_at": key.expires_at.isoformat(),
    }
