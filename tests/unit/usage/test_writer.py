"""The batched usage writer: durable on close, bounded in memory, patient with a busy database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from keyguard.runtime import Runtime
from keyguard.usage.models import UsageEvent
from keyguard.usage.records import UsageRecord
from keyguard.usage.writer import UsageWriter
from tests.conftest import START


def _record(n: int = 0, **fields: Any) -> UsageRecord:
    values: dict[str, Any] = {
        "ts": START,
        "method": "GET",
        "path": f"/v1/keys/{n}",
        "outcome": "ok",
        "status": 200,
        "key_id": "key_abc",
        "tenant_id": "default",
        "env": "live",
        "ip": "203.0.113.7",
        "scope": "keys:read",
    }
    values.update(fields)
    return UsageRecord(**values)


def _stored(runtime: Runtime) -> list[UsageEvent]:
    with runtime.sessions() as session:
        return list(session.scalars(select(UsageEvent).order_by(UsageEvent.id)))


class FlakySessions:
    """A session factory whose first `begin()` fails as if the database were away."""

    def __init__(self, sessions: sessionmaker[Session], failures: int = 1) -> None:
        self._sessions = sessions
        self._failures = failures

    def begin(self) -> Any:
        if self._failures:
            self._failures -= 1
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))
        return self._sessions.begin()


def test_flush_writes_queued_events_in_batches_in_order(runtime: Runtime) -> None:
    writer = UsageWriter(runtime.sessions, max_batch=4)
    for n in range(10):
        writer.submit(_record(n, recipients=n, recipient_domains=["example.com"], extra={"n": n}))
    assert writer.depth() == 10
    assert writer.flush() == 10
    stored = _stored(runtime)
    assert [e.path for e in stored] == [f"/v1/keys/{n}" for n in range(10)]
    assert stored[3].to_json()["n"] == 3
    assert stored[3].recipient_domains == ["example.com"]
    assert writer.depth() == 0


def test_close_writes_everything_still_queued(runtime: Runtime) -> None:
    writer = UsageWriter(runtime.sessions, flush_interval=3600)
    writer.start()
    for n in range(5):
        writer.submit(_record(n))
    writer.close()
    assert len(_stored(runtime)) == 5


def test_a_full_queue_stops_accepting_then_drops_and_counts_past_its_margin(
    runtime: Runtime,
) -> None:
    writer = UsageWriter(runtime.sessions, max_queue=3, overflow=1)
    for n in range(3):
        assert writer.accepting()
        writer.submit(_record(n))
    assert not writer.accepting()  # the gate now refuses new uses with 503
    for n in range(3, 5):  # requests admitted before: their events still find room, once
        writer.submit(_record(n))
    assert (writer.depth(), writer.dropped) == (4, 1)


def test_an_unavailable_database_keeps_the_events_for_the_next_flush(runtime: Runtime) -> None:
    writer = UsageWriter(FlakySessions(runtime.sessions))  # type: ignore[arg-type]
    for n in range(3):
        writer.submit(_record(n))
    assert writer.flush() == 0
    assert (writer.depth(), writer.failures) == (3, 1)
    assert writer.flush() == 3
    assert [e.path for e in _stored(runtime)] == ["/v1/keys/0", "/v1/keys/1", "/v1/keys/2"]


def test_rows_the_database_refuses_are_dropped_not_retried_forever(runtime: Runtime) -> None:
    writer = UsageWriter(runtime.sessions)
    writer.submit(_record(0, outcome=None))  # violates NOT NULL
    writer.flush()
    assert (writer.depth(), writer.dropped) == (0, 1)
    writer.submit(_record(1))
    assert writer.flush() == 1


def test_overlong_values_are_cut_to_the_column_widths(runtime: Runtime) -> None:
    writer = UsageWriter(runtime.sessions)
    writer.submit(_record(0, user_agent="u" * 1000, path="/" + "p" * 1000))
    writer.flush()
    (event,) = _stored(runtime)
    assert (len(event.user_agent or ""), len(event.path)) == (300, 300)


def test_rows_with_and_without_optional_columns_keep_their_order_and_sql_nulls(
    runtime: Runtime,
) -> None:
    writer = UsageWriter(runtime.sessions)
    writer.submit(_record(0))
    writer.submit(_record(1, extra={"via": "key_gateway"}))
    writer.submit(_record(2, recipients=2, sender="news@brand.example"))
    writer.submit(_record(3))
    assert writer.flush() == 4
    stored = _stored(runtime)
    assert [e.path for e in stored] == [f"/v1/keys/{n}" for n in range(4)]
    assert [e.extra for e in stored] == [None, {"via": "key_gateway"}, None, None]
    assert (stored[2].recipients, stored[2].sender) == (2, "news@brand.example")
    with runtime.sessions() as session:  # SQL NULL, not a JSON `null`
        nulls = session.scalars(select(UsageEvent.path).where(UsageEvent.extra.is_(None)))
        assert sorted(nulls) == ["/v1/keys/0", "/v1/keys/2", "/v1/keys/3"]
