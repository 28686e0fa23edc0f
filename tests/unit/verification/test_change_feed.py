"""The database change feed: ordered on PostgreSQL under concurrent writers, and a sequence
number that becomes visible after a later one is still seen (two real transactions)."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest
from sqlalchemy import Connection, insert, select, text
from sqlalchemy.orm import Session

from keyguard import audit
from keyguard.audit import AuditEvent
from keyguard.clock import ManualClock
from keyguard.runtime import Runtime
from keyguard.verification import ChangeFeed

BOUND = 15.0  # a failure bound for waits on another transaction, never a measurement


@pytest.fixture
def seen(runtime: Runtime) -> tuple[ChangeFeed, list[str]]:
    invalidated: list[str] = []
    feed = ChangeFeed(runtime.sessions, invalidated.append, gap_polls=3)
    feed.poll()  # the starting point
    return feed, invalidated


def postgres_only(runtime: Runtime) -> None:
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("two concurrent writers need PostgreSQL (SQLite has one writer at a time)")


def _row(seq: int, target: str, now: datetime) -> dict[str, object]:
    return {
        "seq": seq, "ts": now, "tenant_id": "default", "actor": "test", "action": "key.revoked",
        "target": target, "data": {}, "prev_hash": "0" * 64, "hash": "0" * 64,
    }  # fmt: skip


def _last_seq(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc())) or 0)


def _waiting_on_a_lock(connection: Connection, pid: int) -> bool:
    event = connection.execute(
        text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
    ).scalar()
    return event == "Lock"


def test_appends_from_two_transactions_commit_in_sequence_order_on_postgresql(
    runtime: Runtime, clock: ManualClock, seen: tuple[ChangeFeed, list[str]]
) -> None:
    postgres_only(runtime)
    feed, invalidated = seen
    first = runtime.sessions()
    first.begin()
    one = audit.append(first, now=clock(), actor="test", action="key.revoked", target="key_one")
    second_pid: list[int] = []
    second_seq: list[int] = []

    def second_writer() -> None:
        with runtime.sessions.begin() as session:
            second_pid.append(session.connection().connection.dbapi_connection.info.backend_pid)
            event = audit.append(
                session, now=clock(), actor="test", action="key.revoked", target="key_two"
            )
            second_seq.append(event.seq)

    thread = threading.Thread(target=second_writer)
    thread.start()
    with runtime.engine.connect() as observer:
        for _ in range(int(BOUND / 0.01)):  # until the second append waits on the head's lock
            if second_pid and _waiting_on_a_lock(observer, second_pid[0]):
                break
            time.sleep(0.01)  # the other transaction is on its way to the lock
        else:
            pytest.fail("the second append never waited for the first transaction")
    assert feed.poll() == 0  # neither has committed
    first.commit()
    first.close()
    thread.join(BOUND)
    assert second_seq == [one.seq + 1]  # numbered after the first, so visible after it
    assert feed.poll() == 2
    assert invalidated == ["key_one", "key_two"]
    assert feed.gaps == frozenset()


def test_a_sequence_number_committed_after_a_later_one_is_still_seen(
    runtime: Runtime, clock: ManualClock, seen: tuple[ChangeFeed, list[str]]
) -> None:
    """A writer that numbers its row before committing without the head's lock: the later
    number commits first, and a plain `seq > last` poll would pass the earlier one for good."""
    postgres_only(runtime)
    feed, invalidated = seen
    base = _last_seq(runtime)
    slow = runtime.engine.connect()
    slow_tx = slow.begin()
    slow.execute(insert(AuditEvent), [_row(base + 1, "key_slow", clock())])
    with runtime.engine.begin() as fast:
        fast.execute(insert(AuditEvent), [_row(base + 2, "key_fast", clock())])
    assert feed.poll() == 1
    assert invalidated == ["key_fast"]
    assert feed.gaps == frozenset({base + 1})
    slow_tx.commit()
    slow.close()
    assert feed.poll() == 1
    assert invalidated == ["key_fast", "key_slow"]
    assert (feed.gaps, feed.late) == (frozenset(), 1)


def test_a_gap_that_never_fills_is_forgotten_after_a_bounded_number_of_polls(
    runtime: Runtime, clock: ManualClock, seen: tuple[ChangeFeed, list[str]]
) -> None:
    feed, invalidated = seen
    base = _last_seq(runtime)
    with runtime.sessions.begin() as session:
        _insert(session, base + 2, "key_after_a_gap", clock())
    feed.poll()
    assert feed.gaps == frozenset({base + 1})
    for _ in range(3):  # gap_polls=3
        feed.poll()
    assert feed.gaps == frozenset()
    assert invalidated == ["key_after_a_gap"]


def _insert(session: Session, seq: int, target: str, now: datetime) -> None:
    session.execute(insert(AuditEvent), [_row(seq, target, now)])
