"""The daily recipient quota of a key, counted in the acceptance transaction.

Counting in the same transaction as the outbox rows means a rolled-back send consumes
nothing and a committed one is counted exactly once. The counter row is locked while it is
read and raised (on PostgreSQL by the upsert that reads it, which updates the row; SQLite's
BEGIN IMMEDIATE already serialises writers), so concurrent requests cannot both spend the
last recipients.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from keyguard.errors import RateLimited
from keyguard.mail.models import QuotaUsage


class QuotaWindow:
    """The recipients a key may still send today; `take` spends from it in memory."""

    def __init__(self, key_id: str, day: str, limit: int, used: int, retry_after: float) -> None:
        self.key_id = key_id
        self.day = day
        self.limit = limit
        self.used = used
        self.spent = 0
        self.retry_after = retry_after

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used - self.spent, 0)

    def take(self, recipients: int) -> None:
        if recipients > self.remaining:
            raise RateLimited(
                f"the key's daily quota of {self.limit} recipients is exhausted "
                f"({self.remaining} left today)",
                code="quota_exceeded",
                retry_after=self.retry_after,
            )
        self.spent += recipients


def open_window(session: Session, key_id: str, limit: int, now: datetime) -> QuotaWindow:
    """Lock today's counter row (creating it) and return what is left.

    One statement: the upsert's no-op update locks an existing row (as FOR UPDATE would; a
    concurrent first send of the day waits for the other's insert) and returns its count."""
    day = now.date().isoformat()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    upsert = insert(QuotaUsage).values(key_id=key_id, day=day, used=0)
    used = session.scalars(
        upsert.on_conflict_do_update(
            index_elements=[QuotaUsage.key_id, QuotaUsage.day], set_={"used": QuotaUsage.used}
        ).returning(QuotaUsage.used)
    ).one()
    midnight = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=now.tzinfo)
    return QuotaWindow(key_id, day, limit, used, (midnight - now).total_seconds())


def spend(session: Session, key_id: str, limit: int | None, recipients: int, now: datetime) -> None:
    """Spend `recipients` at once from today's quota, or raise (no limit: nothing counted)."""
    if limit is None:
        return
    window = open_window(session, key_id, limit, now)
    window.take(recipients)
    commit_window(session, window)


def commit_window(session: Session, window: QuotaWindow) -> None:
    """Add what was spent to the counter (still inside the caller's transaction)."""
    if window.spent:
        session.execute(
            update(QuotaUsage)
            .where(QuotaUsage.key_id == window.key_id, QuotaUsage.day == window.day)
            .values(used=QuotaUsage.used + window.spent)
        )
