"""Cross-process cache invalidation, read from the audit log.

Every revoke, suspend, resume and rotate appends an audit event in the same transaction as the
change, so the audit log is already a durable, ordered feed of "this key changed". Each process
polls it (an indexed range scan on the primary key) and drops those keys from its cache. With the
default one-second interval, a key revoked from the CLI or from another node stops verifying
everywhere within about a second, on SQLite and PostgreSQL alike, with no extra service.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from keyguard.audit import AuditEvent

log = structlog.get_logger(__name__)


class ChangeFeed:
    """Remembers the last audit sequence number seen; `poll` invalidates newer key changes."""

    def __init__(self, sessions: sessionmaker[Session], invalidate: Callable[[str], None]) -> None:
        self._sessions = sessions
        self._invalidate = invalidate
        self._last_seq: int | None = None

    def poll(self, batch_size: int = 1000) -> int:
        """Invalidate every key changed since the last poll; return how many were dropped."""
        with self._sessions() as session:
            if self._last_seq is None:
                # Start from now: the cache is empty at startup, older changes do not matter.
                self._last_seq = session.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0)))
                return 0
            rows = session.execute(
                select(AuditEvent.seq, AuditEvent.target)
                .where(AuditEvent.seq > self._last_seq)
                .order_by(AuditEvent.seq)
                .limit(batch_size)
            ).all()
        dropped = 0
        for seq, target in rows:
            self._last_seq = seq
            if target is not None:
                self._invalidate(target)
                dropped += 1
        return dropped
