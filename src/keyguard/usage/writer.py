"""The batched, durable writer of usage events.

The request path only appends to an in-memory queue; a background thread inserts what has
accumulated every `flush_interval` seconds (or as soon as a full batch is waiting), in one
transaction per batch. `close()` stops the thread and writes everything still queued, so a
graceful shutdown loses nothing.

Crash window: events not yet flushed live only in this process. A crash (SIGKILL, OOM, power
loss) loses at most the events of the last `flush_interval` seconds, plus whatever piled up
while the database was unreachable, and never more than `max_queue` events
(docs/http-api.md). When the queue is full, new events are dropped and counted
(`keyguard_usage_events_dropped_total`), so a database outage cannot exhaust memory.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any, cast

import structlog
from sqlalchemy import Table, insert
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from keyguard.usage.models import UsageEvent
from keyguard.usage.records import UsageRecord

log = structlog.get_logger("keyguard.usage")
# Optional columns are left out of a row when empty (SQL NULL, and no JSON encoding).
_INSERT = insert(cast(Table, UsageEvent.__table__))


class UsageWriter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        flush_interval: float = 1.0,
        max_batch: int = 1000,
        max_queue: int = 100_000,
    ) -> None:
        self._sessions = sessions
        self._interval = flush_interval
        self._max_batch = max_batch
        self._max_queue = max_queue
        self._queue: deque[UsageRecord] = deque()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.written = 0
        self.dropped = 0
        self.failures = 0

    # -- the request path ----------------------------------------------------------------

    def submit(self, record: UsageRecord) -> None:
        """Queue one event; never blocks and never touches the database."""
        if len(self._queue) >= self._max_queue:
            self.dropped += 1
            return
        self._queue.append(record)
        if len(self._queue) >= self._max_batch:
            self._wake.set()

    def depth(self) -> int:
        return len(self._queue)

    # -- the background side -------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="usage-writer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread, then write every queued event (the graceful-shutdown guarantee)."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def flush(self) -> int:
        """Write everything queued now, batch by batch; return how many rows were written."""
        with self._flush_lock:
            before = self.written
            while self._queue and self._write_batch():
                pass
            return self.written - before

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the thread must survive anything; the error is logged
                log.exception("usage_flush_failed")

    def _write_batch(self) -> bool:
        """Insert one batch; False when the database is unavailable (the batch is kept)."""
        batch = self._take(self._max_batch)
        try:
            with self._sessions.begin() as session:
                connection = session.connection()
                for rows in _runs(record.columns(omit_empty=True) for record in batch):
                    connection.execute(_INSERT, rows)
        except (OperationalError, DBAPIError) as exc:
            self.failures += 1
            if isinstance(exc, OperationalError) or exc.connection_invalidated:
                # The database is away or busy: keep the events, in order, for the next try.
                self._queue.extendleft(reversed(batch))
                log.warning(
                    "usage_flush_deferred", queued=len(self._queue), error=type(exc).__name__
                )
                return False
            self.dropped += len(batch)  # the rows themselves are bad: retrying cannot help
            log.error("usage_batch_dropped", events=len(batch), error=type(exc).__name__)
            return True
        self.written += len(batch)
        return True

    def _take(self, limit: int) -> list[UsageRecord]:
        batch: list[UsageRecord] = []
        while self._queue and len(batch) < limit:
            batch.append(self._queue.popleft())
        return batch


def _runs(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Consecutive rows with the same columns, so each run is one executemany, in order."""
    run: list[dict[str, Any]] = []
    for row in rows:
        if run and row.keys() != run[0].keys():
            yield run
            run = []
        run.append(row)
    if run:
        yield run
