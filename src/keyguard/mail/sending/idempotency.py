"""Idempotency-Key: the answer to a send is stored with a fingerprint of its request, in the
send's transaction, and replayed for 24 hours to a retry of the same request.

Keys are per tenant and environment. A concurrent twin of a request fails on the primary key
when it flushes its record, inside its own transaction, and is then answered from the record
the winner committed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import delete
from sqlalchemy.orm import Session

from keyguard.errors import InvalidInput
from keyguard.mail.limits import MAX_IDEMPOTENCY_KEY_CHARS
from keyguard.mail.models import IdempotencyRecord
from keyguard.mail.schemas import SendIn, canonical_request

TTL: Final = timedelta(hours=24)
HEADER: Final = "Idempotency-Key"


class AnsweredMeanwhile(Exception):
    """A twin request with the same key committed its answer while this one was running;
    the caller rolls back and replays that answer."""


def check_key(value: str) -> None:
    if not (0 < len(value) <= MAX_IDEMPOTENCY_KEY_CHARS) or not all("!" <= c <= "~" for c in value):
        raise InvalidInput(
            f"{HEADER} must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters",
            code="invalid_idempotency_key",
            field=HEADER,
        )


def fingerprint(request: SendIn) -> str:
    """What a key is bound to: the request's content, not its formatting."""
    data = json.dumps(canonical_request(request), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


def stored_answer(
    session: Session, *, tenant_id: str, env: str, key: str, request_hash: str, now: datetime
) -> tuple[int, dict[str, Any]] | None:
    """(status, body) of the first answer, None when there is none (or it expired)."""
    stored = session.get(IdempotencyRecord, (tenant_id, env, key))
    if stored is None or stored.created_at < now - TTL:
        return None
    if stored.request_hash != request_hash:
        raise InvalidInput(
            f"this {HEADER} was used with a different request",
            code="idempotency_key_reused",
            field=HEADER,
        )
    return stored.status, dict(stored.response)


def remember(
    session: Session,
    *,
    tenant_id: str,
    env: str,
    key: str,
    request_hash: str,
    status: int,
    body: dict[str, Any],
    now: datetime,
) -> None:
    """Store the answer in the caller's transaction (replacing an expired one)."""
    existing = session.get(IdempotencyRecord, (tenant_id, env, key))
    if existing is not None:
        if existing.created_at >= now - TTL:
            raise AnsweredMeanwhile(key)
        session.delete(existing)
        session.flush()
    session.add(
        IdempotencyRecord(
            tenant_id=tenant_id,
            env=env,
            idem_key=key,
            request_hash=request_hash,
            status=status,
            response=body,
            created_at=now,
        )
    )
    session.flush()  # a concurrent twin fails here, inside its own transaction


def forget_expired(session: Session, now: datetime) -> int:
    """Housekeeping: drop records older than the replay window."""
    result = session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - TTL)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]  # DML results carry rowcount
