"""The outbox: enqueue accepted messages, claim them with leases, record what delivery did.

State machine of a message::

    queued ──claim──▶ sending ──250──▶ sent
                        │  ├──4xx / network──▶ deferred ──(backoff)──▶ sending …
                        │  └──5xx for all, or too many attempts──▶ dead
                        └──lease runs out (worker died)──▶ claimable again
    sandboxed (test/dev mail nobody internal receives; never claimed)
    claim ──key revoked, tenant holds such mail──▶ held (never claimed again)

A claim sets `sending`, a fresh `claim_token` and the lease end in `next_attempt_at`, so one
index serves both due messages and expired leases. On PostgreSQL the due rows are picked
with FOR UPDATE SKIP LOCKED, so concurrent workers take disjoint rows without waiting; on
SQLite BEGIN IMMEDIATE serialises claims and the UPDATE re-checks its own condition. Every
completion is fenced by the claim token: a worker whose lease was taken over writes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.orm import Session

from keyguard.lifecycle import ROTATED_REASON, ApiKey, Tenant
from keyguard.mail.content.prepare import Prepared
from keyguard.mail.models import CLAIMABLE_STATES, DUE, DeliveryEvent, Message
from keyguard.mail.sending.policy import TenantMailPolicy, delivery_targets
from keyguard.storage import rows_insert

_MESSAGES: Final = Message.metadata.tables[Message.__tablename__]
_EVENTS: Final = DeliveryEvent.metadata.tables[DeliveryEvent.__tablename__]
CLAIMABLE: Final = CLAIMABLE_STATES  # the partial index ix_mail_messages_due lists the same
MAX_SUBJECT_STORED: Final = 998
HELD_REASON: Final = "held: the key was revoked before delivery"


@dataclass(frozen=True, slots=True)
class Enqueued:
    id: str
    state: str


@dataclass(frozen=True, slots=True)
class Claimed:
    id: str
    sender: str
    rcpt: list[str]
    mime: bytes = field(repr=False)
    attempts: int
    created_at: datetime
    claim_token: str
    tenant_id: str
    env: str


@dataclass(slots=True)
class DeliveryResult:
    """What the relay said about one claimed message."""

    message: Claimed
    delivered: list[tuple[str, int, str]] = field(default_factory=list)
    bounced: list[tuple[str, int, str]] = field(default_factory=list)
    deferred: list[tuple[str, int | None, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: timedelta = timedelta(seconds=30)
    ceiling: timedelta = timedelta(hours=1)
    max_attempts: int = 8

    def delay(self, attempts: int, jitter: float) -> timedelta:
        """Exponential: base, 2·base, 4·base … capped; `jitter` in [0, 1) spreads retries."""
        raw = self.base * (1 << min(max(attempts - 1, 0), 20))
        return min(raw, self.ceiling) * (0.8 + 0.4 * jitter)


# What enqueue writes, in the tables' column order (the other columns start NULL).
_QUEUED_COLUMNS: Final = (
    "id", "tenant_id", "env", "key_id", "campaign_id", "sender", "recipients", "rcpt",
    "subject", "sandboxed", "size", "mime", "state", "attempts", "next_attempt_at",
    "created_at", "updated_at",
)  # fmt: skip
_FIRST_EVENT_COLUMNS: Final = ("message_id", "ts", "type")


def enqueue(
    session: Session,
    *,
    tenant_id: str,
    env: str,
    key_id: str | None,
    tenant: TenantMailPolicy,
    messages: Sequence[Prepared],
    now: datetime,
    campaign_id: str | None = None,
) -> list[Enqueued]:
    """Insert outbox rows and their first event, in the caller's transaction.

    One compiled INSERT per table (multi-row on SQLite): the values every row shares (who,
    when) are converted once per call, the others once per row (see storage.inserts)."""
    if not messages:
        return []
    connection = session.connection()
    rows_sql = rows_insert(_MESSAGES, _QUEUED_COLUMNS, connection.dialect)
    events_sql = rows_insert(_EVENTS, _FIRST_EVENT_COLUMNS, connection.dialect)
    to_json, to_flag = rows_sql.convert("recipients"), rows_sql.convert("sandboxed")
    at = rows_sql.convert("created_at")(now)
    event_at = events_sql.convert("ts")(now)
    shared = (tenant_id, env, key_id, campaign_id)
    rows, events, result = [], [], []
    for message in messages:
        rcpt, sandboxed = delivery_targets(env, message.recipients, tenant)
        state = "queued" if rcpt else "sandboxed"
        rows.append(
            (
                message.id,
                *shared,
                message.sender.addr,
                to_json([r.addr for r in message.recipients]),
                to_json(rcpt),
                message.subject[:MAX_SUBJECT_STORED],
                to_flag(sandboxed),
                len(message.mime),
                message.mime,
                state,
                0,
                at,
                at,
                at,
            )
        )
        events.append((message.id, event_at, state))
        if sandboxed and rcpt:
            events.append((message.id, event_at, "sandboxed"))
        result.append(Enqueued(message.id, state))
    rows_sql.execute(connection, rows)
    events_sql.execute(connection, events)
    return result


def claim(
    session: Session, *, owner: str, limit: int, lease: timedelta, now: datetime
) -> list[Claimed]:
    """Take up to `limit` due messages (or expired leases) for this worker."""
    token = secrets.token_hex(16)
    due = (
        select(Message.id)
        .where(DUE, Message.next_attempt_at <= now)  # DUE as written in the partial index
        .order_by(Message.next_attempt_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # A materialised CTE runs once; as a plain IN-subquery PostgreSQL may re-run it per
        # row, and LIMIT … SKIP LOCKED would then pick more rows than asked for.
        picked = due.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
        condition = and_(
            Message.id.in_(select(picked.c.id).scalar_subquery()),
            Message.state.in_(CLAIMABLE),  # re-checked on the locked row itself
            Message.next_attempt_at <= now,
        )
    else:
        # BEGIN IMMEDIATE holds SQLite's write lock from before the SELECT, so the rows it
        # picks are still due; matching on the primary key alone keeps the UPDATE an index
        # lookup instead of a scan of every due row.
        condition = Message.id.in_(due.scalar_subquery())
    statement = (
        update(Message)
        .where(condition)
        .values(
            state="sending",
            lease_owner=owner,
            claim_token=token,
            next_attempt_at=now + lease,
            attempts=Message.attempts + 1,
            updated_at=now,
        )
        .returning(
            Message.id,
            Message.sender,
            Message.rcpt,
            Message.mime,
            Message.attempts,
            Message.created_at,
            Message.tenant_id,
            Message.env,
        )
        .execution_options(synchronize_session=False)
    )
    return [
        Claimed(
            id=r.id,
            sender=r.sender,
            rcpt=list(r.rcpt),
            mime=r.mime,
            attempts=r.attempts,
            created_at=r.created_at,
            claim_token=token,
            tenant_id=r.tenant_id,
            env=r.env,
        )
        for r in session.execute(statement)
    ]


def hold_revoked(session: Session, claimed: Sequence[Claimed], *, now: datetime) -> list[Claimed]:
    """Hold, in the claim's transaction, the messages of keys revoked before it (when their
    tenant holds such mail); return the others, to deliver.

    A revoked key is most often a leaked one, and what it queued the attacker's mail. A key
    rotated out is not: its mail was sent by its owner, and goes out.
    """
    if not claimed:
        return []
    by_id = {message.id: message for message in claimed}
    held = set(
        session.scalars(
            select(Message.id)
            .join(ApiKey, ApiKey.id == Message.key_id)
            .join(Tenant, Tenant.id == Message.tenant_id)
            .where(
                Message.id.in_(list(by_id)),
                ApiKey.state == "revoked",
                or_(ApiKey.state_reason.is_(None), ApiKey.state_reason != ROTATED_REASON),
                Tenant.hold_revoked_mail.is_(True),
            )
        )
    )
    if held:
        session.execute(
            update(Message)
            .where(Message.id.in_(list(held)), Message.claim_token == claimed[0].claim_token)
            .values(
                state="held",
                rcpt=[],
                claim_token=None,
                lease_owner=None,
                last_error=HELD_REASON,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        session.execute(
            insert(_EVENTS), [_event(i, now, "held", detail=HELD_REASON) for i in sorted(held)]
        )
    return [message for message in claimed if message.id not in held]


def complete(
    session: Session,
    results: Sequence[DeliveryResult],
    *,
    now: datetime,
    retry: RetryPolicy,
    jitter: float,
) -> dict[str, str]:
    """Record a batch of delivery results; returns message id → new state (fenced rows only)."""
    states: dict[str, str] = {}
    finished = [r for r in results if not r.deferred]
    states.update(_finish(session, finished, now))
    for result in results:
        if result.deferred:
            state = _defer(session, result, now=now, retry=retry, jitter=jitter)
            if state:
                states[result.message.id] = state
    events = [
        event
        for result in results
        if result.message.id in states
        for event in _result_events(result, states[result.message.id], now)
    ]
    if events:
        session.execute(insert(_EVENTS), events)
    return states


def _finish(session: Session, results: Sequence[DeliveryResult], now: datetime) -> dict[str, str]:
    """Messages with nothing left to retry: sent if anyone got it, dead if everyone refused."""
    states: dict[str, str] = {}
    for state in ("sent", "dead"):
        batch = [r for r in results if ("sent" if r.delivered else "dead") == state]
        by_token: dict[str, list[str]] = {}
        for result in batch:
            by_token.setdefault(result.message.claim_token, []).append(result.message.id)
        for token, ids in by_token.items():
            done = session.execute(
                update(Message)
                .where(Message.id.in_(ids), Message.claim_token == token)
                .values(
                    state=state,
                    rcpt=[],
                    claim_token=None,
                    lease_owner=None,
                    sent_at=now if state == "sent" else None,
                    last_error=None if state == "sent" else "every recipient was refused",
                    updated_at=now,
                )
                .returning(Message.id)
                .execution_options(synchronize_session=False)
            )
            states.update(dict.fromkeys(done.scalars(), state))
    return states


def _defer(
    session: Session, result: DeliveryResult, *, now: datetime, retry: RetryPolicy, jitter: float
) -> str | None:
    message = result.message
    error = "; ".join(f"{rcpt}: {code or '-'} {text}" for rcpt, code, text in result.deferred)
    dead = message.attempts >= retry.max_attempts
    state = "dead" if dead else "deferred"
    done = session.execute(
        update(Message)
        .where(Message.id == message.id, Message.claim_token == message.claim_token)
        .values(
            state=state,
            rcpt=[] if dead else [rcpt for rcpt, _, _ in result.deferred],
            claim_token=None,
            lease_owner=None,
            next_attempt_at=now + retry.delay(message.attempts, jitter),
            sent_at=now if result.delivered else None,
            last_error=error[:2000],
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return state if done.rowcount else None  # type: ignore[attr-defined]  # DML result


def _result_events(result: DeliveryResult, state: str, now: datetime) -> list[dict[str, object]]:
    message_id = result.message.id
    kind = "dead" if state == "dead" else "deferred"
    steps = [
        *(("delivered", *item) for item in result.delivered),
        *(("bounced", *item) for item in result.bounced),
        *((kind, *item) for item in result.deferred),
    ]
    events = [
        _event(message_id, now, step, recipient=rcpt, code=code, detail=text)
        for step, rcpt, code, text in steps
    ]
    if state == "dead" and not result.deferred:
        events.append(_event(message_id, now, "dead", detail="every recipient was refused"))
    return events


def _event(
    message_id: str,
    now: datetime,
    kind: str,
    *,
    recipient: str | None = None,
    code: int | None = None,
    detail: str | None = None,
) -> dict[str, object]:
    return {
        "message_id": message_id,
        "ts": now,
        "type": kind,
        "recipient": recipient,
        "smtp_code": code,
        "detail": detail[:1000] if detail else None,
    }
