"""The events key lifecycle and sender-domain actions add to the audit chain, field by field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from keyguard import audit
from keyguard.audit.models import AuditEvent
from keyguard.clock import ManualClock
from keyguard.errors import InvalidInput
from keyguard.keys import generate_key
from keyguard.lifecycle.service import KeySpec
from keyguard.lifecycle.tenants import DEFAULT_TENANT
from keyguard.lifecycle.views import OPERATOR
from keyguard.mail import domains
from keyguard.runtime import Runtime
from tests.conftest import create_key

Row = tuple[str, str, str | None, str | None, dict[str, Any]]


def _events_after(runtime: Runtime, seq: int) -> list[Row]:
    with runtime.sessions() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.seq > seq).order_by("seq"))
        return [(e.actor, e.action, e.tenant_id, e.target, e.data) for e in events]


def _last_seq(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0


def test_each_key_action_records_who_did_what_to_which_key_with_its_details(
    runtime: Runtime, clock: ManualClock
) -> None:
    start = _last_seq(runtime)
    created = create_key(runtime).view
    runtime.keys.suspend(OPERATOR, created.id, "paused")
    runtime.keys.resume(OPERATOR, created.id)
    rotated = runtime.keys.rotate(OPERATOR, created.id, timedelta(hours=2)).view
    successor_id = "key_" + "S" * 16
    successor = runtime.keys.issue_successor(
        OPERATOR, rotated.id, raw=generate_key("live"), successor_id=successor_id
    )
    runtime.keys.revoke(OPERATOR, rotated.id)
    expires = created.expires_at.isoformat()
    actor, tenant = OPERATOR.id, DEFAULT_TENANT
    details = {"env": "live", "scopes": ["mail:send"], "expires_at": expires}
    assert _events_after(runtime, start) == [
        (actor, "key.created", tenant, created.id, details),
        (actor, "key.suspended", tenant, created.id, {"reason": "paused"}),
        (actor, "key.resumed", tenant, created.id, {}),
        (
            actor,
            "key.rotated",
            tenant,
            created.id,
            {"successor": rotated.id, "grace_until": (clock() + timedelta(hours=2)).isoformat()},
        ),
        (
            actor,
            "key.created",
            tenant,
            successor.id,
            {**details, "expires_at": successor.expires_at.isoformat(), "parent_id": rotated.id},
        ),
        (actor, "key.revoked", tenant, rotated.id, {"reason": "revoked by operator:cli"}),
    ]


def test_a_key_pasted_into_a_reason_is_masked_in_the_event(runtime: Runtime) -> None:
    created = create_key(runtime).view
    pasted = generate_key("live").reveal()
    start = _last_seq(runtime)
    revoked = runtime.keys.revoke(OPERATOR, created.id, f"leaked: {pasted}")
    [(_, _, _, _, data)] = _events_after(runtime, start)
    assert pasted not in str(data)
    assert data == {"reason": revoked.state_reason}


def test_each_sender_domain_action_records_the_tenant_and_what_changed(
    runtime: Runtime, clock: ManualClock
) -> None:
    start = _last_seq(runtime)
    tenant, actor = DEFAULT_TENANT, "operator:web"
    with runtime.sessions.begin() as session:
        common: dict[str, Any] = {"tenant_id": tenant, "actor": actor, "now": clock()}
        assert domains.add_domain(session, domain="Brand.Example", **common)
        assert not domains.add_domain(session, domain="brand.example", **common)  # no event
        domains.remove_domain(session, domain="brand.example", **common)
        assert domains.add_internal(session, address="@team.example", **common)
        domains.remove_internal(session, address="@team.example", **common)
        assert domains.set_hold_revoked_mail(
            session, tenant_id=tenant, hold=False, actor=actor, now=clock()
        )
        assert domains.set_hold_revoked_mail(
            session, tenant_id=tenant, hold=True, actor=actor, now=clock()
        )
    assert _events_after(runtime, start) == [
        (actor, "mail.domain_added", tenant, "brand.example", {}),
        (actor, "mail.domain_removed", tenant, "brand.example", {}),
        (actor, "mail.internal_recipient_added", tenant, "@team.example", {}),
        (actor, "mail.internal_recipient_removed", tenant, "@team.example", {}),
        (actor, "mail.hold_revoked_mail_cleared", tenant, tenant, {}),
        (actor, "mail.hold_revoked_mail_set", tenant, tenant, {}),
    ]
    with runtime.sessions() as session:
        assert audit.verify_chain(session).intact


def test_a_refused_action_records_nothing(runtime: Runtime) -> None:
    start = _last_seq(runtime)
    with pytest.raises(InvalidInput):
        runtime.keys.create(OPERATOR, KeySpec(DEFAULT_TENANT, "staging", ["mail:send"]))
    assert _events_after(runtime, start) == []


def test_record_keeps_its_details_as_data_with_any_key_masked(
    runtime: Runtime, clock: ManualClock
) -> None:
    pasted = generate_key("live").reveal()
    with runtime.sessions.begin() as session:
        event = audit.record(
            session, clock(), "operator:cli", "test.noted", tenant_id="other", target="t-1",
            note=f"see {pasted}", count=2,
        )  # fmt: skip
        assert (event.tenant_id, event.target, event.data["count"]) == ("other", "t-1", 2)
        assert pasted not in event.data["note"] and event.data["note"].startswith("see ")
    with runtime.sessions() as session:
        assert audit.verify_chain(session).intact
