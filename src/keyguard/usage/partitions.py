"""The day partitions of `usage_events` on PostgreSQL: made ahead, dropped when past retention.

Migration `0910` partitions the table by range of `ts`, one partition a
UTC day named `usage_events_pYYYYMMDD`, and a default partition for any row no day covers.
The usage maintenance (keyguard.usage.retention) calls `prepare` to create the next days'
partitions before rows arrive for them, and `drop_before` to drop whole days the retention
allows: a DROP TABLE instead of deleting millions of rows (no dead tuples, no vacuum debt).

A day is never created while the default partition holds rows of it (PostgreSQL would refuse:
those rows would belong to the new partition); such rows stay in the default partition and
the row-by-row purge removes them in time. On SQLite, and on a PostgreSQL table that is not
partitioned (a database not migrated this far), everything here does nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

log = structlog.get_logger("keyguard.usage.partitions")
DAY: Final = timedelta(days=1)
DAYS_AHEAD: Final = 3  # partitions made ahead: maintenance may pause for days and lose nothing
_PREFIX: Final = "usage_events_p"


def day_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def partition_name(day: datetime) -> str:
    return f"{_PREFIX}{day:%Y%m%d}"


class UsagePartitions:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def partitioned(self) -> bool:
        with self._sessions() as session:
            if session.get_bind().dialect.name != "postgresql":
                return False
            kind = session.scalar(
                text("SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass('usage_events')")
            )
            return bool(kind == "p")

    def days(self) -> list[datetime]:
        """The day partitions there are, oldest first."""
        if not self.partitioned():
            return []
        with self._sessions() as session:
            names = session.scalars(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = to_regclass('usage_events') AND c.relname LIKE :like"
                ),
                {"like": f"{_PREFIX}%"},
            )
            days = [
                datetime.strptime(n[len(_PREFIX) :], "%Y%m%d").replace(tzinfo=UTC) for n in names
            ]
        return sorted(days)

    def prepare(self, now: datetime, ahead: int = DAYS_AHEAD) -> int:
        """Create the partitions of today and the next `ahead` days; returns how many."""
        if not self.partitioned():
            return 0
        existing = set(self.days())
        created = 0
        for offset in range(ahead + 1):
            day = day_start(now) + offset * DAY
            if day not in existing and self._create(day):
                created += 1
        return created

    def _create(self, day: datetime) -> bool:
        try:
            with self._sessions.begin() as session:
                early = session.scalar(
                    text("SELECT 1 FROM usage_events_default WHERE ts >= :lo AND ts < :hi LIMIT 1"),
                    {"lo": day, "hi": day + DAY},
                )
                if early is not None:  # that day's rows are in the default partition
                    return False
                session.execute(
                    text(
                        f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF "
                        f"usage_events FOR VALUES FROM ('{day.isoformat()}') "
                        f"TO ('{(day + DAY).isoformat()}')"
                    )
                )
        except DBAPIError as exc:  # a row of that day arrived meanwhile; the next run retries
            log.warning("usage_partition_not_created", day=f"{day:%Y-%m-%d}", error=str(exc))
            return False
        return True

    def drop_before(self, cut: datetime) -> int:
        """Drop the day partitions that end at or before `cut`; returns how many."""
        dropped = 0
        for day in self.days():
            if day + DAY > cut:
                break
            with self._sessions.begin() as session:
                session.execute(text(f"DROP TABLE IF EXISTS {partition_name(day)}"))
            dropped += 1
        return dropped
