"""Retention of usage: hourly rollups first, then the purge of raw events and old rollups.

Run by the worker's housekeeping (runtime/housekeeping.py) every few minutes; each step is
idempotent and works in bounded transactions, so a run can stop anywhere (a crash, the
process ending) and the next one carries on:

1. Roll up: each complete hour after `usage_rollup_state.rolled_until` becomes one row per key
   in `usage_rollups` (an upsert: recomputing an hour writes the same row), and the mark moves
   past it in the same transaction. Empty stretches are skipped in one step. An hour counts as
   complete `settle` after it ends, so that events still in some writer's queue make it.
2. Purge events older than the raw retention — never past the rollup mark, so no event goes
   before its hour is rolled up — `batch` rows per transaction.
3. Purge rollups older than their own retention, a day of them per transaction.

On PostgreSQL, where `usage_events` is partitioned by day (keyguard.usage.partitions), each
run first makes the coming days' partitions, and step 2 drops the whole days it may before
deleting what is left row by row (the default partition, a day cut in two).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

import structlog
from sqlalchemy import Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.usage.history import ROLLUP_STATE
from keyguard.usage.hours import HOUR, floor_hour, hour_start, listed_networks, raw_hours
from keyguard.usage.models import UsageEvent, UsageRollup, UsageRollupState
from keyguard.usage.partitions import UsagePartitions

log = structlog.get_logger("keyguard.usage.retention")
_EVENTS: Final = UsageEvent.__table__.c
_ROLLUPS: Final = cast(Table, UsageRollup.__table__)


@dataclass(frozen=True, slots=True)
class RetentionReport:
    hours_rolled: int = 0
    events_purged: int = 0
    rollups_purged: int = 0
    partitions_dropped: int = 0  # whole days of events, on PostgreSQL


class UsageRetention:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        raw_retention: timedelta = timedelta(days=90),
        rollup_retention: timedelta = timedelta(days=400),
        settle: timedelta = timedelta(minutes=10),
        batch: int = 5_000,
        max_hours: int = 168,
        max_batches: int = 100,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.raw_retention = raw_retention
        self.rollup_retention = rollup_retention
        self._settle = settle
        self._batch = batch
        self._max_hours = max_hours  # hours rolled up per run: a backlog takes a few runs
        self._max_batches = max_batches  # transactions per purge per run
        self.partitions = UsagePartitions(sessions)
        self._partitioned: bool | None = None  # looked up once, at the first run

    def run(self) -> RetentionReport:
        """Roll up, then purge: the order that loses nothing."""
        if self._partitioned is None:
            self._partitioned = self.partitions.partitioned()
        if self._partitioned:
            self.partitions.prepare(self._clock())
        hours = self.roll_up()
        dropped = self.drop_partitions() if self._partitioned else 0
        report = RetentionReport(hours, self.purge_events(), self.purge_rollups(), dropped)
        if report != RetentionReport():
            log.info(
                "usage_retention",
                hours_rolled=report.hours_rolled,
                events_purged=report.events_purged,
                rollups_purged=report.rollups_purged,
                partitions_dropped=report.partitions_dropped,
            )
        return report

    # -- 1. roll up ---------------------------------------------------------------------------

    def roll_up(self) -> int:
        """Roll up complete hours, oldest first; returns how many hours had events."""
        complete = floor_hour(self._clock() - self._settle)
        rolled = 0
        while rolled < self._max_hours:
            with self._sessions.begin() as session:
                hour = self._next_hour(session, complete)
                if hour is None:
                    return rolled
                self._roll(session, hour)
                _mark(session, hour + HOUR)
            rolled += 1
        return rolled

    def _next_hour(self, session: Session, complete: datetime) -> datetime | None:
        """The next complete hour with events after the mark (moving the mark over an empty
        stretch), or None when everything complete is rolled up."""
        until = rolled_until(session)
        query = select(func.min(_EVENTS.ts)).where(_EVENTS.ts < complete)
        if until is not None:
            if until >= complete:
                return None
            query = query.where(_EVENTS.ts >= until)
        first = session.scalar(query)
        if first is None:
            if until is not None:
                _mark(session, complete)  # nothing in between: skip it in one step
            return None
        return floor_hour(first)

    def _roll(self, session: Session, hour: datetime) -> None:
        end = hour + HOUR
        hours = raw_hours(session, hour, end)
        owners = {
            key_id: (tenant_id, env)
            for key_id, tenant_id, env in session.execute(
                select(_EVENTS.key_id, _EVENTS.tenant_id, _EVENTS.env)
                .where(_EVENTS.ts >= hour, _EVENTS.ts < end, _EVENTS.key_id.is_not(None))
                .distinct()
            )
        }
        rows = [
            {
                "key_id": key_id,
                "hour": hour_start(number),
                "tenant_id": owners.get(key_id, (None, None))[0],
                "env": owners.get(key_id, (None, None))[1],
                "requests": usage.requests,
                "outcomes": dict(usage.outcomes),
                "recipients": usage.recipients,
                "networks": listed_networks(usage.networks),
                "network_count": usage.distinct_networks(),
            }
            for (key_id, number), usage in hours.items()
        ]
        _upsert(session, rows)

    # -- 2. and 3. purge ----------------------------------------------------------------------

    def _purge_cut(self) -> datetime | None:
        """Events before this may go: past the retention and rolled up (None: nothing may)."""
        with self._sessions() as session:
            until = rolled_until(session)
        if until is None:
            return None
        return min(floor_hour(self._clock() - self.raw_retention), until)

    def drop_partitions(self) -> int:
        """PostgreSQL: drop the day partitions wholly before the purge's cut."""
        cut = self._purge_cut()
        return 0 if cut is None else self.partitions.drop_before(cut)

    def purge_events(self) -> int:
        """Delete raw events past the retention and already rolled up, batch by batch."""
        cut = self._purge_cut()
        if cut is None:
            return 0
        purged = 0
        for _ in range(self._max_batches):
            oldest = (
                select(_EVENTS.id)
                .where(_EVENTS.ts < cut)
                .order_by(_EVENTS.ts)
                .limit(self._batch)
                .scalar_subquery()
            )
            with self._sessions.begin() as session:
                result = session.execute(
                    delete(UsageEvent)
                    .where(UsageEvent.id.in_(oldest))
                    .execution_options(synchronize_session=False)
                )
            deleted = _rowcount(result)
            purged += deleted
            if deleted < self._batch:
                break
        return purged

    def purge_rollups(self) -> int:
        """Delete rollups past their retention, a day of them per transaction."""
        cut = floor_hour(self._clock() - self.rollup_retention)
        purged = 0
        for _ in range(self._max_batches):
            with self._sessions.begin() as session:
                oldest = session.scalar(select(func.min(UsageRollup.hour)))
                if oldest is None or oldest >= cut:
                    break
                result = session.execute(
                    delete(UsageRollup)
                    .where(UsageRollup.hour < min(cut, oldest + timedelta(days=1)))
                    .execution_options(synchronize_session=False)
                )
            purged += _rowcount(result)
        return purged


def rolled_until(session: Session) -> datetime | None:
    return session.scalar(
        select(UsageRollupState.rolled_until).where(UsageRollupState.name == ROLLUP_STATE)
    )


def _mark(session: Session, until: datetime) -> None:
    state = session.get(UsageRollupState, ROLLUP_STATE)
    if state is None:
        session.add(UsageRollupState(name=ROLLUP_STATE, rolled_until=until))
    elif state.rolled_until < until:  # another process may have gone further already
        state.rolled_until = until
    session.flush()


def _upsert(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the hour's rows, or overwrite them when the hour was rolled up before."""
    if not rows:
        return
    # Both supported backends spell the upsert alike: ON CONFLICT (key_id, hour) DO UPDATE.
    postgres = session.get_bind().dialect.name == "postgresql"
    statement = (postgresql.insert if postgres else sqlite.insert)(_ROLLUPS)
    columns = (
        "tenant_id",
        "env",
        "requests",
        "outcomes",
        "recipients",
        "networks",
        "network_count",
    )
    statement = statement.on_conflict_do_update(
        index_elements=["key_id", "hour"],
        set_={name: statement.excluded[name] for name in columns},
    )
    session.execute(statement, list(rows))


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
