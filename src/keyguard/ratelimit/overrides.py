"""Per-key rate overrides with an expiry: stored, so that every process applies them.

A throttle is written in the caller's transaction (`set_override`, `clear_override`); each
process keeps the live overrides in memory (`Overrides.load`, every OVERRIDE_POLL_SECONDS in
housekeeping) so that the request path reads a dict, never the database.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.ratelimit.models import RateOverride


def set_override(
    session: Session,
    now: datetime,
    *,
    key_id: str,
    tenant_id: str,
    per_minute: int,
    until: datetime,
    reason: str,
) -> None:
    """Throttle `key_id` to `per_minute` until `until` (replacing an earlier throttle)."""
    row = session.get(RateOverride, key_id)
    if row is None:
        row = RateOverride(key_id=key_id, tenant_id=tenant_id, created_at=now)
        session.add(row)
    row.per_minute, row.until, row.reason = per_minute, until, reason[:200]
    session.flush()


def clear_override(session: Session, key_id: str) -> bool:
    """Lift a throttle; True when there was one."""
    # Through the ORM, not a bulk DELETE: the fan-out (keyguard.fanout) sees the flushed
    # deletion and tells every process to reload its throttles.
    row = session.get(RateOverride, key_id, with_for_update=True)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


class Overrides:
    """This process's copy of the live overrides: key id → (per minute, until as POSIX)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._by_key: dict[str, tuple[int, float]] = {}

    def load(self, sessions: sessionmaker[Session]) -> None:
        now = self._clock()
        with sessions() as session:
            rows = session.execute(
                select(RateOverride.key_id, RateOverride.per_minute, RateOverride.until).where(
                    RateOverride.until > now
                )
            ).all()
        self._by_key = {key: (rate, until.timestamp()) for key, rate, until in rows}

    def per_minute(self, key_id: str, configured: int | None) -> int | None:
        """The rate that applies now: the lower of the key's own and a live override."""
        if not self._by_key:
            return configured
        found = self._by_key.get(key_id)
        if found is None or found[1] <= self._clock().timestamp():
            return configured
        return found[0] if configured is None else min(found[0], configured)

    def __len__(self) -> int:
        return len(self._by_key)
