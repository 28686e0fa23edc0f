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

import contextvars
import threading
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

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
    """One caller's work, what became of it, and the lock its caller sleeps on."""

    __slots__ = ("context", "done", "error", "result", "wake", "work")

    def __init__(self, work: Callable[[Session], T]) -> None:
        self.work = work
        # The leader runs it in its caller's context (context variables: a request id for
        # logging), not in the leader's own.
        self.context = contextvars.copy_context()
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None
        # Held from the start; released once, to wake its caller: the cheapest primitive
        # that one thread can wait on and another release.
        self.wake = threading.Lock()
        self.wake.acquire()

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # set when error is None


class GroupCommit:
    """Concurrent callers share one transaction, each in its own savepoint (SQLite).

    One caller at a time leads. A caller that finds a leader queues and sleeps. When the
    leader's transaction ends it wakes the callers whose work it held and hands the lead to
    the first caller still queued, who runs every queued caller's work in the next
    transaction. Each caller is woken once: no thundering herd on a shared condition."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._lock = threading.Lock()
        self._waiting: list[_Waiting[Any]] = []
        self._leading = False
        self.groups = 0  # transactions committed or failed, for tests and benchmarks

    @property
    def queued(self) -> int:
        """Callers waiting for the next transaction."""
        with self._lock:
            return len(self._waiting)

    @property
    def leading(self) -> bool:
        """Whether a transaction is running."""
        return self._leading

    def run(self, work: Callable[[Session], T]) -> T:
        mine = _Waiting(work)
        with self._lock:
            if self._leading:
                self._waiting.append(mine)
                follow = True
            else:
                self._leading, follow = True, False
                group = [mine]
        if follow:
            mine.wake.acquire()  # done by a leader, or handed the lead
            if mine.done:
                return mine.outcome()
            with self._lock:  # the lead: every caller queued by now, this one first
                group, self._waiting = self._waiting, []
        try:
            self._commit(group)
        finally:  # whatever happened, nobody of the group, nor the next, sleeps forever
            self._hand_over(group, mine)
        return mine.outcome()

    def _commit(self, group: list[_Waiting[Any]]) -> None:
        try:
            with self._sessions.begin() as session:
                for waiting in group:
                    try:
                        with session.begin_nested():
                            waiting.result = waiting.context.run(waiting.work, session)
                    except BaseException as exc:  # re-raised in its caller
                        waiting.error = exc
        except BaseException as exc:  # BEGIN or COMMIT failed: nothing kept
            for waiting in group:
                if waiting.error is None:
                    waiting.result, waiting.error = None, exc
        finally:
            self.groups += 1

    def _hand_over(self, group: list[_Waiting[Any]], mine: _Waiting[Any]) -> None:
        with self._lock:
            for waiting in group:
                waiting.done = True
            if self._waiting:
                successor: _Waiting[Any] | None = self._waiting[0]
            else:
                successor, self._leading = None, False
        for waiting in group:
            if waiting is not mine:
                waiting.wake.release()
        if successor is not None:
            successor.wake.release()


def transactions_for(sessions: sessionmaker[Session]) -> Transactions:
    """GroupCommit on SQLite (one writer at a time), a transaction per call elsewhere."""
    bind = sessions.kw.get("bind")
    if bind is not None and bind.dialect.name == "sqlite":
        return GroupCommit(sessions)
    return OwnTransaction(sessions)
