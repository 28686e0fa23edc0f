"""A usage trace stored the way the service stores it, and the replay to compare with."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from keyguard.monitoring import Alert, DetectorCursor, Event, StoredAlert, replay
from keyguard.runtime import Runtime
from keyguard.usage import UsageEvent, UsageRecord, iso
from tests.conftest import START
from tests.unit.monitoring.factory import event, invalid

# The trace ends shortly before the test's clock: history, then a compromise.
OFFSET = START - timedelta(days=9) - event(0).ts


def shifted(e: Event, **fields: Any) -> Event:
    return msgspec.structs.replace(e, ts=e.ts + OFFSET, **fields)


def trace(key_id: str = "key_a", tenant: str = "tenant_1") -> list[Event]:
    """A week of steady use, a new provider and client (high), a new country, a guessing run
    from one address (key-less), then more steady use."""
    same = {"key_id": key_id, "tenant": tenant}
    events = [event(h * 0.5, **same) for h in range(7 * 48)]
    end = 7 * 24.0
    events.append(event(end, ip="192.0.2.7", asn=64777, user_agent="curl/8.4.0", **same))
    events.append(event(end + 0.5, geo="BR", **same))
    events += [invalid(end + 1 + i / 600, ip="203.0.113.66") for i in range(40)]
    events += [event(end + 2 + h * 0.5, **same) for h in range(48)]
    return [shifted(e) for e in events]


def steady_after_trace(key_id: str, tenant: str, count: int) -> list[Event]:
    """`count` more events of the trace's steady use, after its end (half an hour apart)."""
    same = {"key_id": key_id, "tenant": tenant}
    return [shifted(event(7 * 24.0 + 26 + h * 0.5, **same)) for h in range(count)]


def record_of(e: Event) -> UsageRecord:
    return UsageRecord(
        ts=e.ts, method=e.method, path=e.path, outcome=e.outcome, status=e.status,
        key_id=e.key_id, tenant_id=e.tenant, env=e.env, ip=e.ip, user_agent=e.user_agent,
        scope=e.scope, recipients=e.recipients, recipient_domains=e.recipient_domains,
        sender=e.sender, geo=e.geo, asn=e.asn,
    )  # fmt: skip


def store(runtime: Runtime, events: Iterable[Event], *, watched: bool = True) -> None:
    """Write `events` as the usage writer does. `watched`: a detector was already running
    (its cursor exists), so they are new to it; a detector's very first start would begin
    after them."""
    if watched:
        try:
            with runtime.sessions.begin() as session:
                if session.get(DetectorCursor, "usage") is None:
                    cursor = DetectorCursor(name="usage", last_event_id=0, events=0, skipped_ids=0)
                    session.add(cursor)
        except IntegrityError:
            pass  # a running server's detector made its cursor in between: watched all the same
    for e in events:
        runtime.usage.submit(record_of(e))
    runtime.usage.flush()


def replayed(runtime: Runtime) -> list[dict[str, Any]]:
    """What `keyguard monitor replay` raises over the stored events, exported as JSON."""
    with runtime.sessions() as session:
        rows = session.scalars(select(UsageEvent).order_by(UsageEvent.id)).all()
        lines = [msgspec.json.encode(row.to_json()) for row in rows]
    alerts: list[Alert] = []
    replay(lines, alerts.append)
    return [msgspec.to_builtins(a) for a in alerts]


def stored(runtime: Runtime) -> list[dict[str, Any]]:
    """The detector's alerts in the replay's schema (the action aside: replay never acts)."""
    with runtime.sessions() as session:
        rows = session.scalars(select(StoredAlert).order_by(StoredAlert.id)).all()
        return [
            {
                "ts": iso(r.ts), "key_id": r.key_id, "rule": r.rule, "severity": r.severity,
                "action": "none", "first_event_ts": iso(r.first_event_ts), "evidence": r.evidence,
            }
            for r in rows
        ]  # fmt: skip
