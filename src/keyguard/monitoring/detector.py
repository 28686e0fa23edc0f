"""The online detector: the engine over the durable usage stream, off the request path.

::

    poll() ─► hold the lease (one detector among all nodes) ─► engine missing? warm it up
          ─► one transaction: lock the cursor row, read the next events in id order, feed
             them, insert their alerts (decided by the tenant's policy, told to the
             Notifier), advance the cursor ─► commit ─► carry out pending actions

Exactly once: the cursor and the alerts of the events before it commit together, under a
lock on the cursor row that also checks the lease is still ours and the cursor where we left
it; any failure drops the engine, which the next poll rebuilds from the stored cursor.

Gaps: an id is taken when a row is inserted, so on PostgreSQL a later id (a mail send's
event, stored at once) can commit before an earlier one (a batch of the usage writer). The
detector only moves past contiguous ids; a hole stops it until it fills, or until it is
settled — the row after it is GAP_SECONDS older than now, or the hole has been seen that
long — and is then counted as skipped (ids of rolled-back inserts never fill).

Restart: the engine is rebuilt by feeding it the stored events of `warmup` before the
cursor (at most `warmup_events`), alerts discarded — they were raised before — and then
every false positive of that window is learned again. The very first detector of a database
starts at its newest event, warmed the same way: an upgraded install's history raises no
old alerts (`keyguard monitor replay` is for the past).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

import msgspec
import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.monitoring.alerts import Alert
from keyguard.monitoring.config import EngineConfig
from keyguard.monitoring.engine import Engine
from keyguard.monitoring.events import Event, decode_event
from keyguard.monitoring.interfaces import NoNotifier, Notifier
from keyguard.monitoring.models import DetectorCursor, StoredAlert
from keyguard.monitoring.response import Responder, decide
from keyguard.usage import UsageEvent

log = structlog.get_logger("keyguard.monitoring")
STREAM: Final = "usage"
POLL_SECONDS: Final = 0.5  # alerts within a second of the event's commit, on an idle stream


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    batch: int = 2000
    lease: timedelta = timedelta(seconds=15)
    gap: timedelta = timedelta(seconds=10)
    warmup: timedelta = timedelta(days=7)
    warmup_events: int = 500_000


@dataclass(slots=True)
class _Hole:
    after: int  # the last id before it
    seen: datetime


@dataclass(slots=True)
class DetectorStats:
    events: int = 0
    skipped_ids: int = 0
    alerts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (rule, severity)
    last_event_ts: datetime | None = None


class Detector:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        responder: Responder,
        *,
        notifier: Notifier | None = None,
        engine_config: EngineConfig | None = None,
        config: DetectorConfig | None = None,
        owner: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.responder = responder
        self.notifier: Notifier = notifier or NoNotifier()
        self._engine_config = engine_config
        self.config = config or DetectorConfig()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._engine: Engine | None = None
        self._cursor = 0
        self._hole: _Hole | None = None
        self.stats = DetectorStats()
        self.leading = False  # held the lease at the last poll
        self._renew_at = datetime.min.replace(tzinfo=UTC)

    # -- one round ---------------------------------------------------------------------------

    def poll(self) -> int:
        """Process what is ready; the number of events fed (0 when another node leads)."""
        self.leading = self._hold_lease()
        if not self.leading:
            self._engine = None  # another detector leads: our state goes stale
            return 0
        if self._engine is None:
            self._warm_up()
        try:
            self._learn_false_positives()  # before the events that follow the vouching
            fed = self._step()
        except Exception:
            self._engine = None  # the engine may be ahead of the cursor: rebuild it
            raise
        self.responder.run_pending()
        return fed

    def catch_up(self, rounds: int = 50) -> int:
        """Poll while full batches keep coming (the periodic job: a backlog is worked off in
        one round instead of a batch every POLL_SECONDS)."""
        total = 0
        for _ in range(rounds):
            fed = self.poll()
            total += fed
            if fed < self.config.batch:
                break
        return total

    def drain(self, rounds: int = 10_000) -> int:
        """Poll until nothing is left (tests, `--once`)."""
        total = 0
        for _ in range(rounds):
            fed = self.poll()
            total += fed
            if not fed:
                break
        return total

    def lag_seconds(self) -> float | None:
        """Seconds between the newest processed event's time and now."""
        last = self.stats.last_event_ts
        return None if last is None else max(0.0, (self._clock() - last).total_seconds())

    # -- the lease ---------------------------------------------------------------------------

    def _hold_lease(self) -> bool:
        now = self._clock()
        if self._engine is not None and now < self._renew_at:
            return True  # held, and fresh: no write (each step checks it under its lock)
        until = now + self.config.lease
        self._renew_at = now + self.config.lease / 3
        try:
            with self._sessions.begin() as session:
                row = session.get(DetectorCursor, STREAM)
                if row is None:
                    session.add(_first_cursor(session, self.owner, until))
                    self._engine = None
                    return True
                if row.lease_owner != self.owner:
                    self._engine = None  # taking over: rebuild from the stored cursor
                taken = session.execute(
                    update(DetectorCursor)
                    .where(DetectorCursor.name == STREAM)
                    .where(
                        (DetectorCursor.lease_owner == self.owner)
                        | DetectorCursor.lease_owner.is_(None)
                        | (DetectorCursor.lease_until < now)
                    )
                    .values(lease_owner=self.owner, lease_until=until)
                )
                return bool(getattr(taken, "rowcount", 0))
        except IntegrityError:  # another node created the row at the same moment
            return False

    def release(self) -> None:
        """Give the lease up at shutdown, so that another node takes over at once (if the
        database is away, the lease simply runs out)."""
        self._engine = None
        try:
            with self._sessions.begin() as session:
                session.execute(
                    update(DetectorCursor)
                    .where(DetectorCursor.name == STREAM, DetectorCursor.lease_owner == self.owner)
                    .values(lease_owner=None, lease_until=None)
                )
        except SQLAlchemyError as error:
            log.warning("detector_release_failed", error=type(error).__name__)

    # -- the stream --------------------------------------------------------------------------

    def _step(self) -> int:
        engine = self._engine
        if engine is None:  # dropped by a failed round: the next poll warms up again
            return 0
        now = self._clock()
        with self._sessions.begin() as session:
            cursor = session.get(DetectorCursor, STREAM, with_for_update=True)
            if cursor is None or cursor.lease_owner != self.owner:
                self._engine = None
                return 0
            if cursor.last_event_id != self._cursor:
                self._engine = None  # someone else moved it: our engine is not its state
                return 0
            rows = session.scalars(
                select(UsageEvent)
                .where(UsageEvent.id > cursor.last_event_id)
                .order_by(UsageEvent.id)
                .limit(self.config.batch)
            ).all()
            ready, skipped = self._contiguous(cursor.last_event_id, rows, now)
            for row in ready:
                for alert in engine.feed(to_event(row)):
                    self._store(session, now, alert, row)
            if ready:
                last = ready[-1]
                cursor.last_event_id, cursor.last_event_ts = last.id, last.ts
                cursor.events += len(ready)
                cursor.skipped_ids += skipped
        if ready:
            self._cursor = ready[-1].id
            self.stats.events += len(ready)
            self.stats.skipped_ids += skipped
            self.stats.last_event_ts = ready[-1].ts
        return len(ready)

    def _contiguous(
        self, after: int, rows: Sequence[UsageEvent], now: datetime
    ) -> tuple[list[UsageEvent], int]:
        """The rows up to the first unsettled hole, and how many ids were skipped."""
        ready: list[UsageEvent] = []
        skipped = 0
        expected = after + 1
        for row in rows:
            if row.id != expected:
                if not self._settled(expected - 1, row, now):
                    break
                skipped += row.id - expected
                log.warning("detector_skipped_ids", first=expected, last=row.id - 1)
            ready.append(row)
            expected = row.id + 1
        return ready, skipped

    def _settled(self, after: int, row: UsageEvent, now: datetime) -> bool:
        hole = self._hole
        if hole is None or hole.after != after:
            hole = self._hole = _Hole(after, now)
        gap = self.config.gap
        return now - row.ts >= gap or now - hole.seen >= gap

    def _store(self, session: Session, now: datetime, alert: Alert, row: UsageEvent) -> None:
        decision = decide(session, alert, row.tenant_id)
        stored = StoredAlert(
            tenant_id=row.tenant_id if alert.key_id is not None else None,
            env=row.env if alert.key_id is not None else None,
            key_id=alert.key_id,
            rule=alert.rule,
            severity=alert.severity,
            state="open",
            action=decision.action,
            action_state=decision.action_state,
            planned_action=decision.planned,
            ts=_parse(alert.ts),
            first_event_ts=_parse(alert.first_event_ts),
            evidence=alert.evidence,
            event_id=row.id,
            created_at=now,
            updated_at=now,
            learned=False,
        )
        session.add(stored)
        session.flush()
        self.notifier.alert_raised(session, stored)
        self.stats.alerts[alert.rule, alert.severity] += 1

    # -- state after a restart ---------------------------------------------------------------

    def _warm_up(self) -> None:
        engine = Engine(self._engine_config)
        with self._sessions() as session:
            cursor = session.get(DetectorCursor, STREAM)
            last = cursor.last_event_id if cursor is not None else 0
            last_ts = cursor.last_event_ts if cursor is not None else None
            fed = 0
            if last and last_ts is not None:
                for row in self._window(session, last, last_ts):
                    engine.feed(to_event(row))  # raised before the restart: discarded
                    fed += 1
            self._engine, self._cursor, self._hole = engine, last, None
            self.stats.last_event_ts = last_ts
            learned = self._relearn(session, last, last_ts)
        log.info("detector_warmed_up", cursor=last, events=fed, false_positives=learned)

    def _window(self, session: Session, last: int, last_ts: datetime) -> Iterator[UsageEvent]:
        query = (
            select(UsageEvent)
            .where(
                UsageEvent.id <= last,
                UsageEvent.id > last - self.config.warmup_events,
                UsageEvent.ts >= last_ts - self.config.warmup,
            )
            .order_by(UsageEvent.id)
            .execution_options(yield_per=5000)
        )
        yield from session.scalars(query)

    def _relearn(self, session: Session, last: int, last_ts: datetime | None) -> int:
        if last_ts is None or self._engine is None:
            return 0
        rows = session.execute(
            select(UsageEvent)
            .join(StoredAlert, StoredAlert.event_id == UsageEvent.id)
            .where(StoredAlert.state == "false_positive", StoredAlert.learned.is_(True))
            .where(UsageEvent.ts >= last_ts - self.config.warmup)
            .order_by(UsageEvent.id)
        ).scalars()
        count = 0
        for row in rows:
            self._engine.accept(to_event(row))
            count += 1
        return count

    def _learn_false_positives(self) -> None:
        """Alerts a person marked false positive since the last round teach the baseline."""
        engine = self._engine
        if engine is None:
            return
        with self._sessions.begin() as session:
            alerts = session.scalars(
                select(StoredAlert)
                .where(StoredAlert.state == "false_positive", StoredAlert.learned.is_(False))
                .order_by(StoredAlert.id)
                .limit(100)
            ).all()
            for alert in alerts:
                row = session.get(UsageEvent, alert.event_id)
                if row is not None:
                    engine.accept(to_event(row))
                alert.learned = True


def _first_cursor(session: Session, owner: str, until: datetime) -> DetectorCursor:
    """The very first detector starts at the newest stored event (its engine warmed on the
    window before it): the history of an upgraded install raises no old alerts."""
    newest = session.execute(
        select(UsageEvent.id, UsageEvent.ts).order_by(UsageEvent.id.desc()).limit(1)
    ).first()
    return DetectorCursor(
        name=STREAM,
        last_event_id=newest.id if newest is not None else 0,
        last_event_ts=newest.ts if newest is not None else None,
        events=0,
        skipped_ids=0,
        lease_owner=owner,
        lease_until=until,
    )


def to_event(row: UsageEvent) -> Event:
    """The stored row as the engine reads it: exactly what its JSON export replays as."""
    return decode_event(_encoder.encode(row.to_json()))


_encoder: Final = msgspec.json.Encoder()


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
