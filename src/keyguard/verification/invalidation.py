"""Cross-process cache invalidation, read from the audit log.

Every revoke, suspend, resume and rotate appends an audit event in the same transaction as the
change, so the audit log is already a durable, ordered feed of "this key changed". Each process
polls it (an indexed range scan on the primary key) and drops those keys from its cache. With
Redis, the fan-out (keyguard.fanout) delivers the same news within milliseconds and this feed
is the fallback; without it, the feed alone bounds how stale a cache can be
(runtime.housekeeping.CHANGE_FEED_SECONDS).

Sequence numbers are taken before the commit. `audit.append` takes them under the lock of the
`audit_head` row, which is held to the commit, so on PostgreSQL and SQLite alike they become
visible in order. The feed does not rely on that alone: a number it skipped over (a row not yet
visible when a later one was) is remembered as a gap and looked for again on each poll for
GAP_POLLS polls, so a row that commits late is still seen instead of being passed over for good.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from keyguard.audit import AuditEvent

log = structlog.get_logger(__name__)

# How many polls a skipped sequence number is looked for (a minute at two polls a second:
# far longer than any transaction that appends an audit event), and at most how many are.
GAP_POLLS: Final = 120
MAX_GAPS: Final = 10_000


class ChangeFeed:
    """Remembers the last audit sequence number seen; `poll` invalidates newer key changes."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        invalidate: Callable[[str], None],
        *,
        gap_polls: int = GAP_POLLS,
    ) -> None:
        self._sessions = sessions
        self._invalidate = invalidate
        self._last_seq: int | None = None
        self._gap_polls = gap_polls
        self._gaps: dict[int, int] = {}  # skipped seq -> polls left to look for it
        self.late = 0  # rows found in a gap: committed after a later number was seen
        # The periodic poll and the fan-out's catch-up may run at once, in two threads.
        self._lock = threading.Lock()

    @property
    def gaps(self) -> frozenset[int]:
        return frozenset(self._gaps)

    def poll(self, batch_size: int = 1000) -> int:
        """Invalidate every key changed since the last poll; return how many were dropped."""
        with self._lock:
            return self._poll(batch_size)

    def _poll(self, batch_size: int) -> int:
        with self._sessions() as session:
            if self._last_seq is None:
                # Start from now: the cache is empty at startup, older changes do not matter.
                self._last_seq = session.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0)))
                return 0
            late = self._filled_gaps(session)
            rows = session.execute(
                select(AuditEvent.seq, AuditEvent.target)
                .where(AuditEvent.seq > self._last_seq)
                .order_by(AuditEvent.seq)
                .limit(batch_size)
            ).all()
        self._age_gaps()
        targets = [target for _, target in late]
        for seq, target in rows:
            self._note_gap(seq)
            self._last_seq = seq
            targets.append(target)
        dropped = 0
        for target in targets:
            if target is not None:
                self._invalidate(target)
                dropped += 1
        return dropped

    def _filled_gaps(self, session: Session) -> list[tuple[int, str | None]]:
        if not self._gaps:
            return []
        found = session.execute(
            select(AuditEvent.seq, AuditEvent.target).where(AuditEvent.seq.in_(list(self._gaps)))
        ).all()
        for seq, _ in found:
            del self._gaps[seq]
        self.late += len(found)
        return [(seq, target) for seq, target in found]

    def _note_gap(self, seq: int) -> None:
        assert self._last_seq is not None  # noqa: S101 - set by the first poll
        for missing in range(self._last_seq + 1, min(seq, self._last_seq + 1 + MAX_GAPS)):
            if len(self._gaps) >= MAX_GAPS:
                log.warning("change_feed_gaps_overflow", seq=missing)
                break
            self._gaps[missing] = self._gap_polls

    def _age_gaps(self) -> None:
        for seq in list(self._gaps):
            self._gaps[seq] -= 1
            if self._gaps[seq] <= 0:
                del self._gaps[seq]  # rolled back, or never written: nothing to wait for
