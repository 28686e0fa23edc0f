"""The batched, durable writer of usage events.

The request path only appends to an in-memory queue; a background thread inserts what has
accumulated every `flush_interval` seconds (or as soon as a full batch is waiting), in one
transaction per batch. `close()` stops the thread and writes everything still queued, so a
graceful shutdown loses nothing.

Crash window: events not yet flushed live only in this process. A crash (SIGKILL, OOM, power
loss) loses at most the events of the last `flush_interval` seconds, plus whatever piled up
while the database was unreachable, and never more than `max_queue` events
(docs/http-api.md). When the queue holds `max_queue` events, `accepting()` turns False and
the gate refuses new uses with 503 (docs/operations.md, "When a dependency fails"): a use is
refused rather than served without its event. Events of uses admitted just before are still
taken, up to a margin above `max_queue`; only past that is an event dropped, counted
(`keyguard_usage_events_dropped_total`) and logged, so a database outage cannot exhaust memory.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from functools import partial
from operator import attrgetter
from typing import Any, cast

import structlog
from sqlalchemy import Connection, Dialect, Table
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from keyguard.storage import rows_insert
from keyguard.usage.geo import IpLocator
from keyguard.usage.models import UsageEvent
from keyguard.usage.records import WIDTHS, UsageRecord

log = structlog.get_logger("keyguard.usage")
_TABLE = cast(Table, UsageEvent.__table__)
_PLAIN = (
    "ts", "key_id", "tenant_id", "env", "ip", "user_agent", "method", "path", "scope",
    "outcome", "status", "request_id", "key_last_used_at", "geo", "asn", "ip_hex",
)  # fmt: skip
# Every column: the rows that carry an optional one (a verification's `via`, a mail send's
# recipients and sender) take the same compiled path, their empty JSON columns as SQL NULL.
_WIDE = (*_PLAIN, "recipients", "recipient_domains", "sender", "extra")


def _cut_to(width: int, value: str | None) -> str | None:
    return value if value is None or len(value) <= width else value[:width]


class _PlainInsert:
    """Rows go to the driver as plain values, through the statement `RowsInsert` compiles
    once per dialect (keyguard.storage.inserts: a chunk of rows is one multi-row INSERT on
    sqlite3, so the writer thread gives the GIL up and takes it back once per chunk rather
    than per row; psycopg pipelines an executemany). `_PLAIN` takes the rows without
    optional columns (nearly every HTTP request's), `_WIDE` the others. On PostgreSQL the
    rows are COPY'd instead (one round trip, no statement per row on the server).
    """

    use_copy = True  # PostgreSQL (psycopg): COPY; bench/usage_ingest.py compares executemany

    def __init__(self, dialect: Dialect, columns: tuple[str, ...] = _PLAIN) -> None:
        # In the table's order, as RowsInsert takes them.
        self.names = [c.name for c in _TABLE.columns if c.name in columns]
        self._insert = rows_insert(_TABLE, tuple(self.names), dialect)
        self._values = attrgetter(*self.names)  # UsageRecord's attributes are the columns
        # (position, conversion): the dialect's, and the cut to column widths (WIDTHS) so
        # that one odd request cannot make a whole batch fail on PostgreSQL.
        self._fixes: list[tuple[int, Callable[[Any], Any]]] = []
        for i, name in enumerate(self.names):
            self._fixes.append((i, self._insert.convert(name)))
            if name in WIDTHS:
                self._fixes.append((i, partial(_cut_to, WIDTHS[name])))

    def execute(self, connection: Connection, records: list[UsageRecord]) -> None:
        values = [self._row(record) for record in records]
        if self.copies(connection):
            self._copy(connection, values)
        else:
            self._insert.execute(connection, values)

    def copies(self, connection: Connection) -> bool:
        return self.use_copy and connection.dialect.driver == "psycopg"

    def _copy(self, connection: Connection, values: list[list[Any]]) -> None:
        """PostgreSQL: COPY FROM STDIN, in the session's transaction (psycopg streams the
        rows; one round trip for the batch, no statement per row on the server)."""
        driver = connection.connection.dbapi_connection
        assert driver is not None  # noqa: S101 - a checked-out connection always has one
        dbapi = connection.dialect.loaded_dbapi
        try:
            with driver.cursor() as cursor, cursor.copy(self._copy_sql) as copy:  # type: ignore[attr-defined]  # psycopg's Connection
                for row in values:
                    copy.write_row(row)
        except dbapi.Error as exc:  # as SQLAlchemy would have raised it: the writer's policy
            raise DBAPIError.instance(
                self._copy_sql, None, exc, dbapi.Error, dialect=connection.dialect
            ) from exc

    @property
    def _copy_sql(self) -> str:
        return f"COPY usage_events ({', '.join(self.names)}) FROM STDIN"

    def _row(self, record: UsageRecord) -> list[Any]:
        row = list(self._values(record))
        for i, fix in self._fixes:
            row[i] = fix(row[i])
        return row


class UsageWriter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        flush_interval: float = 1.0,
        max_batch: int = 1000,
        max_queue: int = 100_000,
        overflow: int | None = None,
        locator: IpLocator | None = None,
    ) -> None:
        self._sessions = sessions
        self._locator = locator  # geo and asn, added in this thread, never on the request path
        self._interval = flush_interval
        self._max_batch = max_batch
        self._max_queue = max_queue
        # Room for the events of requests admitted before the queue filled (in flight).
        self._hard_limit = max_queue + (
            max(1000, max_queue // 10) if overflow is None else overflow
        )
        self._queue: deque[UsageRecord] = deque()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._inserts: tuple[Dialect, _PlainInsert, _PlainInsert] | None = None
        self.written = 0
        self.dropped = 0
        self.failures = 0

    # -- the request path ----------------------------------------------------------------

    def accepting(self) -> bool:
        """Whether a new use may be admitted: its event will find room in the queue."""
        return len(self._queue) < self._max_queue

    def submit(self, record: UsageRecord) -> None:
        """Queue one event; never blocks and never touches the database."""
        if len(self._queue) >= self._hard_limit:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("usage_event_dropped", dropped=self.dropped, queued=len(self._queue))
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
        self._locate(batch)
        try:
            with self._sessions.begin() as session:
                connection = session.connection()
                plain, wide = self._plain_insert(connection.dialect)
                # One statement shape for the whole batch, in its order: the plain one when
                # no row has an optional column, else every column (a row without them
                # stores NULL there, as the plain shape does). Runs of each shape would make
                # one statement per row of verifications, whose two events alternate.
                uniform = wide.copies(connection) or not all(r.plain for r in batch)
                (wide if uniform else plain).execute(connection, batch)
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

    def _locate(self, batch: list[UsageRecord]) -> None:
        if self._locator is None:
            return
        try:
            self._locator.enrich(batch)
        except Exception as exc:  # a damaged IP database must not cost the events themselves
            log.warning("usage_locate_failed", error=type(exc).__name__)

    def _plain_insert(self, dialect: Dialect) -> tuple[_PlainInsert, _PlainInsert]:
        if self._inserts is None or self._inserts[0] is not dialect:
            self._inserts = (dialect, _PlainInsert(dialect), _PlainInsert(dialect, _WIDE))
        return self._inserts[1], self._inserts[2]

    def _take(self, limit: int) -> list[UsageRecord]:
        batch: list[UsageRecord] = []
        while self._queue and len(batch) < limit:
            batch.append(self._queue.popleft())
        return batch
