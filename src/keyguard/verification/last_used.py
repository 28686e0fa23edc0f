"""Remember when keys were last used, and write it to the database in batches."""

from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy import bindparam, or_, update
from sqlalchemy.orm import Session, sessionmaker

from keyguard.lifecycle import ApiKey
from keyguard.storage import UTCDateTime

_TS = bindparam("ts", type_=UTCDateTime())


# Keys whose latest use this process remembers after a flush (for `previous`); beyond it the
# oldest remembered is forgotten and the snapshot's `last_used_at` answers instead.
MAX_REMEMBERED = 200_000


class LastUsedTracker:
    """`touch` is a dict write on the hot path; `flush` is one UPDATE batch per interval."""

    def __init__(self, max_remembered: int = MAX_REMEMBERED) -> None:
        self._pending: dict[str, datetime] = {}
        self._latest: dict[str, datetime] = {}
        self._max_remembered = max_remembered
        self._lock = threading.Lock()

    def touch(self, key_id: str, when: datetime) -> datetime | None:
        """Note a use; returns the use before it that this process saw (None: none seen)."""
        self._pending[key_id] = when
        latest = self._latest
        previous = latest.get(key_id)
        if previous is None and len(latest) >= self._max_remembered:
            latest.pop(next(iter(latest)), None)
        latest[key_id] = when
        return previous

    def previous(self, key_id: str) -> datetime | None:
        """The latest use of `key_id` this process saw, without noting a new one."""
        return self._latest.get(key_id)

    def pending(self) -> int:
        return len(self._pending)

    def flush(self, sessions: sessionmaker[Session]) -> int:
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return 0
        statement = (
            update(ApiKey)
            .where(ApiKey.id == bindparam("key_id"))
            .where(or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < _TS))
            .values(last_used_at=_TS)
            .execution_options(synchronize_session=False)
        )
        with sessions.begin() as session:
            session.connection().execute(
                statement, [{"key_id": k, "ts": ts} for k, ts in batch.items()]
            )
        return len(batch)
