"""GroupCommit: concurrent callers share a transaction; each keeps its own result or error."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from typing import cast

import pytest
from sqlalchemy import Table, event, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keyguard.mail.models import QuotaUsage
from keyguard.runtime import Runtime
from keyguard.storage import GroupCommit, OwnTransaction, transactions_for

QUOTAS = cast(Table, QuotaUsage.__table__)
WAIT = 30.0  # seconds: a bound on every wait below, never a timing assertion


def _insert(key_id: str) -> Callable[[Session], str]:
    def work(session: Session) -> str:
        session.execute(insert(QUOTAS).values(key_id=key_id, day="2026-12-06", used=1))
        return key_id

    return work


def _stored(runtime: Runtime) -> list[str]:
    with runtime.sessions() as session:
        return sorted(session.execute(select(QUOTAS.c.key_id)).scalars())


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "the callers did not queue"
        time.sleep(0.001)


def _grouped(
    runtime: Runtime,
    works: list[Callable[[Session], str]],
    before: Callable[[int], None] = lambda index: None,
) -> tuple[GroupCommit, list[str | BaseException]]:
    """The first work holds the first transaction until every other caller has queued
    behind it; the others then share the second. Returns each caller's result or error.
    `before(index)` runs in each caller's thread before it calls."""
    writes = GroupCommit(runtime.sessions)
    release = threading.Event()
    results: list[str | BaseException] = [RuntimeError("not run")] * (len(works) + 1)

    def leader(session: Session) -> str:
        assert release.wait(WAIT)
        return _insert("leader")(session)

    def call(index: int, work: Callable[[Session], str]) -> None:
        before(index)
        try:
            results[index] = writes.run(work)
        except BaseException as exc:  # the test compares what each caller got
            results[index] = exc

    threads = [threading.Thread(target=call, args=(0, leader))]
    threads[0].start()
    _until(lambda: writes.queued == 0 and writes.groups == 0 and writes.leading)
    for index, work in enumerate(works, start=1):
        threads.append(threading.Thread(target=call, args=(index, work)))
        threads[-1].start()
    _until(lambda: writes.queued == len(works))
    release.set()
    for thread in threads:
        thread.join(WAIT)
    return writes, results


def test_callers_waiting_behind_a_transaction_share_the_next(runtime: Runtime) -> None:
    writes, results = _grouped(runtime, [_insert(f"key_{n}") for n in range(5)])
    assert writes.groups == 2  # the leader's own, then the five together
    assert sorted(cast(list[str], results)) == sorted(["leader", *(f"key_{n}" for n in range(5))])
    assert _stored(runtime) == sorted(["leader", *(f"key_{n}" for n in range(5))])


def test_a_failing_caller_gets_its_own_error_and_loses_only_its_own_work(
    runtime: Runtime,
) -> None:
    def refused(session: Session) -> str:
        _insert("refused")(session)
        raise ValueError("refused after writing")

    works = [_insert("key_a"), refused, _insert("leader"), _insert("key_b")]  # a duplicate, too
    _, results = _grouped(runtime, works)
    assert results[0] == "leader"
    assert results[1] == "key_a"
    assert isinstance(results[2], ValueError)
    assert isinstance(results[3], IntegrityError)  # "leader" was committed first
    assert results[4] == "key_b"
    assert _stored(runtime) == ["key_a", "key_b", "leader"]


def test_a_failed_commit_fails_every_caller_of_the_group_and_keeps_nothing(
    runtime: Runtime,
) -> None:
    @event.listens_for(runtime.sessions, "before_commit")
    def fail_the_second(session: Session) -> None:
        if session.in_nested_transaction():
            return  # a savepoint's release, not the commit
        written = session.execute(select(QUOTAS.c.key_id).where(QUOTAS.c.key_id == "key_a"))
        if written.first() is not None:
            raise OSError("disk full")

    try:
        _, results = _grouped(runtime, [_insert("key_a"), _insert("key_b")])
    finally:
        event.remove(runtime.sessions, "before_commit", fail_the_second)
    assert results[0] == "leader"
    assert [type(r) for r in results[1:]] == [OSError, OSError]
    assert _stored(runtime) == ["leader"]


def test_sqlite_groups_and_other_databases_take_a_transaction_per_call(
    runtime: Runtime,
) -> None:
    writes = transactions_for(runtime.sessions)
    sqlite = runtime.engine.dialect.name == "sqlite"
    assert isinstance(writes, GroupCommit if sqlite else OwnTransaction)
    assert writes.run(_insert("alone")) == "alone"
    with pytest.raises(IntegrityError):
        writes.run(_insert("alone"))
    assert _stored(runtime) == ["alone"]


def test_the_leader_runs_each_callers_work_in_that_callers_context(runtime: Runtime) -> None:
    caller: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="unset")
    seen: dict[str, str] = {}

    def noting(name: str) -> Callable[[Session], str]:
        def work(session: Session) -> str:
            seen[name] = caller.get()
            return _insert(name)(session)

        return work

    def as_caller(index: int) -> None:
        caller.set(f"caller {index}")

    names = [f"key_{n}" for n in range(3)]
    writes, _ = _grouped(runtime, [noting(n) for n in names], before=as_caller)
    assert writes.groups == 2  # key_0…key_2 ran in one transaction, led by one of them
    assert seen == {name: f"caller {i}" for i, name in enumerate(names, start=1)}
