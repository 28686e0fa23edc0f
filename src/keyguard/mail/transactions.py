"""The transaction rule of the mail services: one transaction per state change.

Each service the doors call (contacts, lists, templates, …) opens the transaction; the
domain helpers it runs inside take the session and never commit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock

T = TypeVar("T")
Json = dict[str, Any]


class Transactional:
    """A service on the session factory and the clock."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def _write(self, action: Callable[[Session, datetime], T]) -> T:
        """`action` in a transaction of its own, committed when it returns, at `now`."""
        with self._sessions.begin() as session:
            return action(session, self._clock())

    def _read(self, action: Callable[[Session], T]) -> T:
        with self._sessions() as session:
            return action(session)
