"""Lazy re-hashing: a key still hashed under an older pepper moves to the current one when used.

Only a successful verification holds the raw key, so that is where the new digest is computed
— the Verifier already has it, since the cache is keyed by the current pepper's digest. It is
recorded in memory (a dict write), and written with the last-used times by the same periodic
flush: one conditional UPDATE batch, never a write per verification. The UPDATE only applies
to a row that still holds the digest the key was verified against, so a concurrent rotation,
revocation or another process's rehash is never overwritten.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session, sessionmaker

from keyguard import audit
from keyguard.clock import Clock
from keyguard.lifecycle import ApiKey
from keyguard.verification.last_used import LastUsedTracker

# stdlib logging: silent at INFO in CLI commands (whose stdout may be JSON), JSON lines
# under `keyguard serve` (keyguard.logging.configure_logging).
log = logging.getLogger(__name__)

REHASH_ACTOR = "system:rehash"


@dataclass(frozen=True, slots=True)
class Rehash:
    """Move `key_id` from (`old_version`, `old_digest`) to (`new_version`, `new_digest`)."""

    key_id: str
    old_version: str
    old_digest: str
    new_version: str
    new_digest: str


class RehashQueue:
    """Re-hashes waiting for the next flush, one per key (the latest wins)."""

    def __init__(self) -> None:
        self._pending: dict[str, Rehash] = {}
        self._lock = threading.Lock()

    def record(
        self, key_id: str, old_version: str, old_digest: str, new_version: str, new_digest: str
    ) -> None:
        """Called on every successful verification of a key not yet moved: a hot key is
        recorded once per flush (a dict lookup), not once per call."""
        if key_id not in self._pending:
            self._pending[key_id] = Rehash(key_id, old_version, old_digest, new_version, new_digest)

    def pending(self) -> int:
        return len(self._pending)

    def flush(self, sessions: sessionmaker[Session], clock: Clock) -> tuple[list[str], int]:
        """Write the batch; returns (every key id of the batch, how many rows moved)."""
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return [], 0
        moved = apply_rehashes(sessions, list(batch.values()), clock())
        return list(batch), moved


def apply_rehashes(sessions: sessionmaker[Session], batch: list[Rehash], now: datetime) -> int:
    """One transaction: the conditional UPDATEs, and one audit event if any row moved."""
    statement = (
        update(ApiKey)
        .where(ApiKey.id == bindparam("key_id"))
        .where(ApiKey.pepper_version == bindparam("old_version"))
        .where(ApiKey.digest == bindparam("old_digest"))
        .values(digest=bindparam("new_digest"), pepper_version=bindparam("new_version"))
        .execution_options(synchronize_session=False)
    )
    parameters = [
        {
            "key_id": r.key_id,
            "old_version": r.old_version,
            "old_digest": r.old_digest,
            "new_version": r.new_version,
            "new_digest": r.new_digest,
        }
        for r in batch
    ]
    with sessions.begin() as session:
        result = session.connection().execute(statement, parameters)
        moved = int(getattr(result, "rowcount", 0) or 0)
        if moved:
            audit.append(
                session,
                now=now,
                actor=REHASH_ACTOR,
                action="keys.rehashed",
                data={"keys": moved, "pepper_version": batch[0].new_version},
            )
    log.info("verification.rehashed", extra={"keys": moved, "recorded": len(batch)})
    return moved


class UseTracker(LastUsedTracker):
    """Last-used times and pending re-hashes, written by the same periodic flush.

    Every process already flushes `verifier.last_used` on an interval and at shutdown; hanging
    the re-hashes on that flush gives them the same batching and the same shutdown guarantee.
    After a flush each key of the batch is dropped from the cache (moved or not: if another
    process moved it first, the cached snapshot is stale), so the next use reloads it once.
    """

    def __init__(
        self, rehash: RehashQueue, *, clock: Clock, on_flushed: Callable[[str], None]
    ) -> None:
        super().__init__()
        self.rehash = rehash
        self._clock = clock
        self._on_flushed = on_flushed

    def flush(self, sessions: sessionmaker[Session]) -> int:
        touched = super().flush(sessions)
        key_ids, _ = self.rehash.flush(sessions, self._clock)
        for key_id in key_ids:
            self._on_flushed(key_id)
        return touched
