"""Append audit events inside the caller's transaction, verify and export the chain.

Each record's hash is SHA-256 over the previous record's hash and the record's own canonical
JSON, so an edit, a deletion, an insertion or a reordering breaks the chain at that point.
The `audit_head` row remembers the last sequence number and hash, so truncating the tail is
caught too. Appends lock that row, which serialises writers on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyguard.audit.models import AuditEvent, AuditHead
from keyguard.logging import scrub

GENESIS = "0" * 64
_HEAD_ID = 1


def canonical(event: AuditEvent) -> str:
    """The exact bytes that are hashed; field order and spacing are fixed."""
    body = {
        "seq": event.seq,
        "ts": event.ts.isoformat(),
        "tenant_id": event.tenant_id,
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "data": event.data,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical(event)}".encode()).hexdigest()


def append(
    session: Session,
    *,
    now: datetime,
    actor: str,
    action: str,
    tenant_id: str | None = None,
    target: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one event to the chain in the session's transaction; the caller commits."""
    head = session.scalars(
        select(AuditHead).where(AuditHead.id == _HEAD_ID).with_for_update()
    ).one_or_none()
    if head is None:
        head = AuditHead(id=_HEAD_ID, seq=0, hash=GENESIS)
        session.add(head)
    event = AuditEvent(
        seq=head.seq + 1,
        ts=now,
        tenant_id=tenant_id,
        actor=actor,
        action=action,
        target=target,
        data=_scrubbed(data or {}),
        prev_hash=head.hash,
    )
    event.hash = chain_hash(head.hash, event)
    head.seq, head.hash = event.seq, event.hash
    session.add(event)
    session.flush()
    return event


def record(
    session: Session,
    now: datetime,
    actor: str,
    action: str,
    *,
    tenant_id: str,
    target: str,
    **details: Any,
) -> AuditEvent:
    """`actor` did `action` to `target`, one of tenant `tenant_id`'s things (a key, a sender
    domain, a setting); `details` become the event's (scrubbed) data. The caller commits."""
    return append(
        session,
        now=now,
        actor=actor,
        action=action,
        tenant_id=tenant_id,
        target=target,
        data=details,
    )


def _scrubbed(value: Any) -> Any:
    """Details with any key-shaped text masked: the log is append-only, so a key pasted into
    a reason could never be removed from it."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of `verify_chain`: intact, or the first bad record and why."""

    intact: bool
    records: int
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_chain(session: Session, batch_size: int = 5000) -> ChainReport:
    """Walk the whole chain in order and stop at the first inconsistency."""
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for event in _events_in_order(session, batch_size):
        problem = _check(event, prev_hash, expected_seq)
        if problem is not None:
            return ChainReport(False, count, event.seq, problem)
        prev_hash, expected_seq, count = event.hash, event.seq + 1, count + 1
    head = session.get(AuditHead, _HEAD_ID)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if (head_seq, head_hash) != (expected_seq - 1, prev_hash):
        return ChainReport(False, count, expected_seq, "records missing after the last one")
    return ChainReport(True, count)


def _check(event: AuditEvent, prev_hash: str, expected_seq: int) -> str | None:
    if event.seq != expected_seq:
        return f"expected record {expected_seq}, found {event.seq} (deleted or inserted)"
    if event.prev_hash != prev_hash:
        return "does not link to the previous record (reordered, inserted or deleted)"
    if chain_hash(prev_hash, event) != event.hash:
        return "content does not match its hash (edited)"
    return None


def _events_in_order(session: Session, batch_size: int) -> Iterator[AuditEvent]:
    last = 0
    while True:
        batch = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.seq > last)
            .order_by(AuditEvent.seq)
            .limit(batch_size)
        ).all()
        if not batch:
            return
        yield from batch
        last = batch[-1].seq
        session.expunge_all()


def event_to_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "ts": event.ts.isoformat(),
        "tenant": event.tenant_id,
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "data": event.data,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def export(session: Session, batch_size: int = 5000) -> Iterator[dict[str, Any]]:
    for event in _events_in_order(session, batch_size):
        yield event_to_json(event)
