"""Remember when keys were last used, and write it to the database in batches."""

from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy import bindparam, or_, update
from sqlalchemy.orm import Session, sessionmaker

from keyguard.lifecycle import ApiKey
from keyguard.storage import UTCDateTime

_TS = bindparam("ts", type_=UTCDateTime())


class LastUsedTracker:
    """`touch` is a dict write on the hot path; `flush` is one UPDATE batch per interval."""

    def __init__(self) -> None:
        self._pending: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def touch(self, key_id: str, when: datetime) -> None:
        self._pending[key_id] = when

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
