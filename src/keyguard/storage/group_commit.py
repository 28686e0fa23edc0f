"""Write transactions for the hot write path: one per call, or, on SQLite, shared (group commit).

SQLite has one writer at a time (every write transaction starts with BEGIN IMMEDIATE), so
concurrent sends queue for its lock anyway, and each then pays for its own BEGIN, connection
checkout and commit. There, `GroupCommit` lets the callers that are waiting share one
transaction instead: the first caller to find no transaction running leads, runs every
waiting caller's work in that transaction, each in a savepoint of its own, commits once, and
wakes them. A caller returns only after the commit that holds its work, so what it answers
is as durable as before; a caller whose work fails has only its savepoint rolled back, and
gets its own exception. If the commit itself fails, every caller of the group gets that
error, and none of their work is kept.

PostgreSQL runs concurrent transactions side by side, and one transaction for many callers
would tie their row locks together (two nodes grouping the same keys' quota rows in a
different order could deadlock): there each call gets its own transaction (`OwnTransaction`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")


class Transactions(Protocol):
    def run(self, work: Callable[[Session], T]) -> T:
        """`work` in a write transaction; returns its result once that is committed."""
        ...


class OwnTransaction:
    """One transaction per call."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def run(self, work: Callable[[Session], T]) -> T:
        with self._sessions.begin() as session:
            return work(session)


class _Waiting(Generic[T]):
    """One caller's work, and what became of it."""

    __slots__ = ("done", "error", "result", "work")

    def __init__(self, work: Callable[[Session], T]) -> None:
        self.work = work
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # set when error is None


class GroupCommit:
    """Concurrent callers share one transaction, each in its own savepoint (SQLite)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._changed = threading.Condition()
        self._waiting: list[_Waiting[object]] = []
        self._leading = False
        self.groups = 0  # transactions committed or failed, for tests and benchmarks

    @property
    def queued(self) -> int:
        """Callers waiting for the next transaction."""
        with self._changed:
            return len(self._waiting)

    @property
    def leading(self) -> bool:
        """Whether a transaction is running."""
        return self._leading

    def run(self, work: Callable[[Session], T]) -> T:
        mine = _Waiting(work)
        with self._changed:
            self._waiting.append(mine)  # type: ignore[arg-type]  # outcome() is typed by run
            while self._leading and not mine.done:
                self._changed.wait()
            if mine.done:  # a leader ran it (and committed, or failed) meanwhile
                return mine.outcome()
            self._leading = True
            group, self._waiting = self._waiting, []
        try:
            self._commit(group)
        finally:
            with self._changed:
                self._leading = False
                self._changed.notify_all()
        return mine.outcome()

    def _commit(self, group: list[_Waiting[object]]) -> None:
        try:
            with self._sessions.begin() as session:
                for waiting in group:
                    try:
                        with session.begin_nested():
                            waiting.result = waiting.work(session)
                    except BaseException as exc:  # re-raised in its caller
                        waiting.error = exc
        except BaseException as exc:  # BEGIN or COMMIT failed: nothing kept
            for waiting in group:
                if waiting.error is None:
                    waiting.result, waiting.error = None, exc
        finally:
            self.groups += 1
            with self._changed:
                for waiting in group:
                    waiting.done = True


def transactions_for(sessions: sessionmaker[Session]) -> Transactions:
    """GroupCommit on SQLite (one writer at a time), a transaction per call elsewhere."""
    bind = sessions.kw.get("bind")
    if bind is not None and bind.dialect.name == "sqlite":
        return GroupCommit(sessions)
    return OwnTransaction(sessions)
