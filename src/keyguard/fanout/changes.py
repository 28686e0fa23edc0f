"""What a committed transaction changed that other processes' caches must hear of.

Every change a verifier caches (revoke, suspend, resume, rotate, quarantine, a reissue, an
incident's bulk stop) appends an audit event naming the key in the same transaction, which is
why the database change feed reads the audit log. The fan-out collects the same thing at the
source: the `target` of each audit event a session flushes, plus whether a throttle
(`rate_overrides` row) was written or removed, and hands it over once the transaction has
committed. One hook on the session factory covers every service, present and future.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import structlog
from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction, sessionmaker

from keyguard.audit import AuditEvent
from keyguard.ratelimit import RateOverride

log = structlog.get_logger("keyguard.fanout")

_PENDING: Final = "keyguard.fanout.pending"
# Keys per message: a bulk stop of many keys is announced in several messages.
MAX_KEYS: Final = 500


@dataclass(frozen=True, slots=True)
class Change:
    """Keys whose cached snapshots are stale, and whether the throttles changed."""

    keys: frozenset[str] = field(default_factory=frozenset)
    throttles: bool = False

    def __bool__(self) -> bool:
        return bool(self.keys) or self.throttles

    def to_json(self) -> str:
        return json.dumps({"keys": sorted(self.keys), "throttles": self.throttles})

    @classmethod
    def from_json(cls, text: str | bytes) -> Change | None:
        """The change a message carries, or None for one that is not ours."""
        try:
            body = json.loads(text)
            keys = body["keys"]
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                return None
            return cls(frozenset(keys), bool(body.get("throttles", False)))
        except (ValueError, TypeError, KeyError):
            return None


@dataclass(slots=True)
class _Pending:
    keys: set[str] = field(default_factory=set)
    throttles: bool = False


def watch(sessions: sessionmaker[Session], publish: Callable[[Change], object]) -> None:
    """After every commit of a session made by `sessions` that changed a key or a throttle,
    call `publish` (in the committing thread; it must be quick and must not raise)."""
    event.listen(sessions, "after_flush", _collect)
    event.listen(sessions, "after_commit", lambda session: _committed(session, publish))
    event.listen(sessions, "after_rollback", _forget)


def _collect(session: Session, _flush: UOWTransaction) -> None:
    # In after_flush the session's new/dirty/deleted collections still show what was flushed.
    pending: _Pending | None = None
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, AuditEvent) and obj.target is not None:
            pending = pending or session.info.setdefault(_PENDING, _Pending())
            pending.keys.add(obj.target)
        elif isinstance(obj, RateOverride):
            pending = pending or session.info.setdefault(_PENDING, _Pending())
            pending.throttles = True


def _committed(session: Session, publish: Callable[[Change], object]) -> None:
    pending: _Pending | None = session.info.pop(_PENDING, None)
    if pending is None:
        return
    keys = sorted(pending.keys)
    chunks = [keys[i : i + MAX_KEYS] for i in range(0, len(keys), MAX_KEYS)] or [[]]
    try:
        for n, chunk in enumerate(chunks):
            publish(Change(frozenset(chunk), pending.throttles and n == 0))
    except Exception as exc:  # the commit has happened: nothing may undo or mask it now
        log.warning("fanout_publish_failed", error=type(exc).__name__)


def _forget(session: Session, *_: Any) -> None:
    session.info.pop(_PENDING, None)
