"""Usage events of the email service, in the PRODUCT.md schema, for HTTP and SMTP alike.

An accepted send writes its event in the transaction that writes the outbox rows; a denial
writes its event in a transaction of its own (the send's transaction is rolled back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from keyguard.errors import KeyguardError
from keyguard.mail.addresses import Address
from keyguard.storage import rows_insert
from keyguard.usage import UsageEvent, UsageRecord, key_columns
from keyguard.verification import KeySnapshot

StatusOf = Callable[[KeyguardError], int]
_TABLE = UsageEvent.metadata.tables[UsageEvent.__tablename__]
# UsageRecord.columns(), in the table's order (`id` is the database's).
_COLUMNS = tuple(column.name for column in _TABLE.c if column.name != "id")


def _default_status(_error: KeyguardError) -> int:
    return 400


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks, from where and through which door; `status_of` maps errors to that door's
    status codes (HTTP status or SMTP reply code), so the domain never hard-codes either."""

    key: KeySnapshot
    ip: str | None = None
    user_agent: str | None = None
    method: str = "POST"
    path: str = "/v1/mail/send"
    scope: str = "mail:send"
    accepted_status: int = 202
    status_of: StatusOf = field(default=_default_status)
    request_id: str | None = None  # the HTTP request's id (None through SMTP)
    key_last_used_at: datetime | None = None  # the key's use before this request (session)
    geo: str | None = None  # where `ip` is (usage.IpLocator), when an IP database is set
    asn: int | None = None


def event_for(
    caller: Caller,
    *,
    now: datetime,
    outcome: str,
    status: int,
    sender: Address | None = None,
    recipients: Sequence[Address] = (),
    extra: dict[str, Any] | None = None,
) -> UsageRecord:
    key = caller.key
    return UsageRecord(
        **key_columns(key),
        ts=now,
        ip=caller.ip,
        user_agent=caller.user_agent,
        method=caller.method,
        path=caller.path,
        scope=caller.scope,
        outcome=outcome,
        status=status,
        recipients=len(recipients) if recipients else None,
        recipient_domains=_domains(recipients) if recipients else None,
        sender=sender.addr if sender else None,
        request_id=caller.request_id,
        extra=extra,
        key_last_used_at=caller.key_last_used_at,
        geo=caller.geo,
        asn=caller.asn,
    )


def store(session: Session, events: Iterable[UsageRecord]) -> None:
    """Insert events in the caller's transaction: one compiled multi-row INSERT, every
    column (an absent optional one is SQL NULL, as the usage writer stores it)."""
    values = [event.columns() for event in events]
    if not values:
        return
    connection = session.connection()
    statement = rows_insert(_TABLE, _COLUMNS, connection.dialect)
    converts = [(name, statement.convert(name)) for name in _COLUMNS]
    rows = [tuple(convert(row[name]) for name, convert in converts) for row in values]
    statement.execute(connection, rows)


def record(sessions: sessionmaker[Session], events: Iterable[UsageRecord]) -> None:
    """Write denial events in their own transaction."""
    batch = list(events)
    if batch:
        with sessions.begin() as session:
            store(session, batch)


def _domains(recipients: Sequence[Address]) -> list[str]:
    return sorted({r.domain for r in recipients})
