"""emit: one outbox row per subscribed, enabled endpoint of the tenant, in the caller's
transaction; payloads are scrubbed; the key lifecycle emits key.* with its change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from keyguard.clock import ManualClock
from keyguard.errors import InvalidInput
from keyguard.lifecycle import OPERATOR
from keyguard.runtime import Runtime
from keyguard.webhooks import emit
from keyguard.webhooks.models import WebhookEndpoint, WebhookMessage
from tests.conftest import create_key

SECOND = timedelta(seconds=1)


def _endpoint(runtime: Runtime, *types: str, tenant: str = "default") -> str:
    created = runtime.webhooks.create(
        OPERATOR, tenant, "https://hooks.example.com/in", list(types) or ["key.created"]
    )
    return created.view.id


def _messages(runtime: Runtime) -> list[WebhookMessage]:
    with runtime.sessions() as session:
        return list(session.scalars(select(WebhookMessage).order_by(WebhookMessage.endpoint_id)))


def test_emit_adds_one_row_per_subscribed_endpoint(runtime: Runtime, clock: ManualClock) -> None:
    first = _endpoint(runtime, "key.created", "key.revoked")
    second = _endpoint(runtime, "key.created")
    _endpoint(runtime, "key.revoked")  # not subscribed to key.created
    _endpoint(runtime, "key.created", tenant="other")  # another tenant's
    with runtime.sessions.begin() as session:
        ids = emit(session, clock(), "default", "key.created", {"key_id": "key_x"})
    rows = _messages(runtime)
    assert sorted(r.id for r in rows) == sorted(ids)
    assert sorted(r.endpoint_id for r in rows) == sorted([first, second])
    assert {r.state for r in rows} == {"pending"}
    assert rows[0].payload == {
        "type": "key.created",
        "timestamp": clock().isoformat(),
        "data": {"key_id": "key_x"},
    }


def test_emit_skips_disabled_endpoints(runtime: Runtime, clock: ManualClock) -> None:
    endpoint_id = _endpoint(runtime, "key.created")
    with runtime.sessions.begin() as session:
        session.get_one(WebhookEndpoint, endpoint_id).enabled = False
    with runtime.sessions.begin() as session:
        assert emit(session, clock(), "default", "key.created", {}) == []


def test_emit_never_commits_its_rows(runtime: Runtime, clock: ManualClock) -> None:
    _endpoint(runtime, "key.created")
    with runtime.sessions() as session:
        emit(session, clock(), "default", "key.created", {})
        session.rollback()
    assert _messages(runtime) == []


def test_emit_refuses_an_unknown_event_type(runtime: Runtime, clock: ManualClock) -> None:
    with runtime.sessions.begin() as session, pytest.raises(InvalidInput):
        emit(session, clock(), "default", "key.exploded", {})


def test_a_key_pasted_into_the_data_is_masked(runtime: Runtime, clock: ManualClock) -> None:
    _endpoint(runtime, "alert.raised")
    raw = create_key(runtime).key.reveal()
    with runtime.sessions.begin() as session:
        emit(session, clock(), "default", "alert.raised", {"note": f"leaked {raw}", "n": [raw]})
    (row,) = _messages(runtime)
    assert raw not in str(row.payload)
    assert raw[:8] in row.payload["data"]["note"]


def test_key_changes_emit_key_events(runtime: Runtime, clock: ManualClock) -> None:
    _endpoint(runtime, "key.created", "key.revoked", "key.rotated", "key.suspended")
    created = create_key(runtime, name="billing")
    clock.advance(SECOND)
    runtime.keys.suspend(OPERATOR, created.view.id, "looking into it")
    clock.advance(SECOND)
    runtime.keys.resume(OPERATOR, created.view.id)  # resumes are not an event type
    clock.advance(SECOND)
    successor = runtime.keys.rotate(OPERATOR, created.view.id, timedelta(hours=1))
    clock.advance(SECOND)
    runtime.keys.revoke(OPERATOR, successor.view.id, "done")
    events = [(m.event_type, m.payload["data"]["key_id"]) for m in _by_time(runtime)]
    assert events == [
        ("key.created", created.view.id),
        ("key.suspended", created.view.id),
        ("key.rotated", created.view.id),
        ("key.revoked", successor.view.id),
    ]
    payloads = str([m.payload for m in _by_time(runtime)])
    assert created.key.reveal() not in payloads
    assert successor.key.reveal() not in payloads


def test_a_failed_key_change_emits_nothing(runtime: Runtime) -> None:
    _endpoint(runtime, "key.created")
    with pytest.raises(InvalidInput):
        create_key(runtime, env="nowhere")
    assert _messages(runtime) == []


def test_a_key_pasted_into_a_revocation_reason_is_masked(runtime: Runtime) -> None:
    _endpoint(runtime, "key.revoked")
    key, other = create_key(runtime), create_key(runtime)
    runtime.keys.revoke(OPERATOR, key.view.id, f"see {other.key.reveal()}")
    (row,) = _messages(runtime)
    assert other.key.reveal() not in str(row.payload)


def _by_time(runtime: Runtime) -> list[WebhookMessage]:
    with runtime.sessions() as session:
        query = select(WebhookMessage).order_by(WebhookMessage.created_at)
        return list(session.scalars(query))
