"""ReviewService on a real database: findings from stored usage events, and apply as a
rotation with grace whose successor carries the proposal."""

from __future__ import annotations

from datetime import datetime, timedelta
from email import message_from_bytes

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from keyguard.audit import AuditEvent
from keyguard.clock import ManualClock
from keyguard.errors import InvalidInput, NotFound
from keyguard.lifecycle import DEFAULT_GRACE, DEFAULT_TENANT, OPERATOR, Actor
from keyguard.mail.models import Message
from keyguard.review import Finding, ReviewDigest
from keyguard.runtime import Runtime
from tests.unit.review.factories import make_key, use


def finding(runtime: Runtime, key_id: str, kind: str) -> Finding:
    found = [f for f in runtime.review.review(OPERATOR).findings if f.key_id == key_id]
    matches = [f for f in found if f.kind == kind]
    assert matches, f"no {kind} among {[f.kind for f in found]}"
    return matches[0]


def kinds_of(runtime: Runtime, key_id: str, actor: Actor = OPERATOR) -> set[str]:
    return {f.kind for f in runtime.review.review(actor).findings if f.key_id == key_id}


def test_stored_events_give_a_narrower_scope_set(runtime: Runtime, clock: ManualClock) -> None:
    key = make_key(runtime, scopes=["mail:send", "contacts:write", "stats:read"])
    twin = make_key(runtime, scopes=["mail:send"])
    clock.advance(timedelta(days=31))
    use(runtime, key, clock() - timedelta(days=5))
    use(runtime, twin, clock() - timedelta(days=5))
    proposal = finding(runtime, key.view.id, "unused_scopes").recommendation
    assert proposal.scopes == ("mail:send",)
    assert "unused_scopes" not in kinds_of(runtime, twin.view.id)


def test_events_outside_the_window_or_refused_do_not_count(
    runtime: Runtime, clock: ManualClock
) -> None:
    key = make_key(runtime)
    clock.advance(timedelta(days=45))
    use(runtime, key, clock() - timedelta(days=40))  # before the 30-day window
    use(runtime, key, clock() - timedelta(days=2), outcome="denied_ip", status=403)
    assert "unused_key" in kinds_of(runtime, key.view.id)


def test_a_review_is_tenant_scoped(runtime: Runtime, clock: ManualClock) -> None:
    mine = make_key(runtime, scopes=["keys:write", "keys:read"])
    theirs = make_key(runtime, tenant_id="other", scopes=["keys:write"])
    actor = Actor(
        id=f"key:{mine.view.id}",
        tenant_id=DEFAULT_TENANT,
        scopes=frozenset({"keys:read", "keys:write"}),
        env="live",
        restrictions=mine.view.restrictions,
    )
    review = runtime.review.review(actor)
    assert review.tenants == (DEFAULT_TENANT,)
    assert {f.key_id for f in review.findings} == {mine.view.id}
    assert theirs.view.id in {f.key_id for f in runtime.review.review(OPERATOR).findings}
    with pytest.raises(NotFound):
        runtime.review.review(OPERATOR, "nobody")


def test_a_test_key_on_production_networks_is_seen_by_operators_only(
    runtime: Runtime, clock: ManualClock
) -> None:
    live = make_key(runtime)
    test = make_key(runtime, env="test")
    elsewhere = make_key(runtime, env="test")
    use(runtime, live, clock(), ip="203.0.113.10")
    use(runtime, test, clock(), ip="203.0.113.99")
    use(runtime, elsewhere, clock(), ip="192.0.2.1")
    clock.advance(timedelta(days=1))
    assert "test_key_on_production_network" in kinds_of(runtime, test.view.id)
    assert "test_key_on_production_network" not in kinds_of(runtime, elsewhere.view.id)
    partitioned = Actor(
        id="key:key_x",
        tenant_id=DEFAULT_TENANT,
        scopes=frozenset({"keys:read"}),
        env="test",
        restrictions=test.view.restrictions,
    )
    assert "test_key_on_production_network" not in kinds_of(runtime, test.view.id, partitioned)


def test_the_same_facts_give_the_same_finding_ids(runtime: Runtime, clock: ManualClock) -> None:
    make_key(runtime, scopes=["keys:write", "mail:send"])
    clock.advance(timedelta(days=31))
    first = [f.id for f in runtime.review.review(OPERATOR).findings]
    clock.advance(timedelta(hours=1))
    assert [f.id for f in runtime.review.review(OPERATOR).findings] == first
    assert first


def test_apply_rotates_with_grace_into_a_narrower_successor(
    runtime: Runtime, clock: ManualClock
) -> None:
    key = make_key(runtime, scopes=["mail:send", "contacts:write"])
    clock.advance(timedelta(days=31))
    use(runtime, key, clock() - timedelta(days=3))
    target = finding(runtime, key.view.id, "unused_scopes")
    applied = runtime.review.apply(OPERATOR, target.id)
    assert applied.successor is not None and applied.raw is not None
    assert applied.successor.scopes == ("mail:send",)
    assert applied.successor.parent_id == key.view.id
    old = runtime.keys.show(OPERATOR, key.view.id)
    assert old.state == "rotating" and old.grace_until == clock() + DEFAULT_GRACE
    # Nothing breaks: the old key still works (with its old powers) during the grace.
    assert runtime.verifier.verify(key.key.reveal(), scope="contacts:write").outcome == "ok"
    new = applied.raw.reveal()
    assert runtime.verifier.verify(new, scope="mail:send").outcome == "ok"
    assert runtime.verifier.verify(new, scope="contacts:write").outcome == "denied_scope"
    clock.advance(DEFAULT_GRACE + timedelta(seconds=1))
    runtime.verifier.invalidate(key.view.id)
    assert runtime.verifier.verify(key.key.reveal()).outcome != "ok"


def test_apply_of_an_allowlist_limits_the_successor_to_those_networks(
    runtime: Runtime, clock: ManualClock
) -> None:
    key = make_key(runtime)
    use(runtime, key, clock(), ip="203.0.113.7")
    clock.advance(timedelta(days=1))
    applied = runtime.review.apply(
        OPERATOR, finding(runtime, key.view.id, "unrestricted_networks").id
    )
    assert applied.successor is not None and applied.raw is not None
    assert [str(n) for n in applied.successor.restrictions.allowed_networks] == ["203.0.113.0/24"]
    new = applied.raw.reveal()
    assert runtime.verifier.verify(new, ip="203.0.113.50").outcome == "ok"
    assert runtime.verifier.verify(new, ip="198.51.100.1").outcome == "denied_ip"
    assert runtime.verifier.verify(key.key.reveal(), ip="198.51.100.1").outcome == "ok"


def test_apply_is_audited(runtime: Runtime, clock: ManualClock) -> None:
    key = make_key(runtime, scopes=["keys:write", "mail:send"])
    clock.advance(timedelta(days=31))
    target = finding(runtime, key.view.id, "holds_keys_write")
    applied = runtime.review.apply(OPERATOR, target.id)
    with runtime.sessions() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "review.applied")
        ).one()
    assert event.target == key.view.id
    assert applied.successor is not None
    assert event.data["finding"] == target.id
    assert event.data["successor"] == applied.successor.id
    assert event.data["recommendation"]["scopes"] == ["mail:send"]


def test_a_revocation_needs_confirmation(runtime: Runtime, clock: ManualClock) -> None:
    key = make_key(runtime)
    clock.advance(timedelta(days=31))
    target = finding(runtime, key.view.id, "unused_key")
    with pytest.raises(InvalidInput) as refused:
        runtime.review.apply(OPERATOR, target.id)
    assert refused.value.code == "confirmation_required"
    assert runtime.keys.show(OPERATOR, key.view.id).state == "active"
    applied = runtime.review.apply(OPERATOR, target.id, confirm=True)
    assert applied.key.state == "revoked" and applied.successor is None


def test_a_finding_without_a_change_cannot_be_applied(runtime: Runtime, clock: ManualClock) -> None:
    key = make_key(runtime, env="test")
    live = make_key(runtime)
    use(runtime, live, clock())
    use(runtime, key, clock())
    clock.advance(timedelta(hours=13))
    target = finding(runtime, key.view.id, "test_key_on_production_network")
    with pytest.raises(InvalidInput) as refused:
        runtime.review.apply(OPERATOR, target.id)
    assert refused.value.code == "nothing_to_apply"


def test_an_applied_finding_is_gone(runtime: Runtime, clock: ManualClock) -> None:
    key = make_key(runtime, scopes=["keys:write", "mail:send"])
    clock.advance(timedelta(days=31))
    target = finding(runtime, key.view.id, "holds_keys_write")
    runtime.review.apply(OPERATOR, target.id)
    with pytest.raises(NotFound):
        runtime.review.apply(OPERATOR, target.id)


def test_another_tenants_finding_is_not_found(runtime: Runtime, clock: ManualClock) -> None:
    theirs = make_key(runtime, tenant_id="other", scopes=["keys:write", "mail:send"])
    clock.advance(timedelta(days=31))
    target = finding(runtime, theirs.view.id, "holds_keys_write")
    actor = Actor(
        id="key:key_mine",
        tenant_id=DEFAULT_TENANT,
        scopes=frozenset({"keys:write", "mail:send"}),
        env="live",
        restrictions=theirs.view.restrictions,
    )
    with pytest.raises(NotFound):
        runtime.review.apply(actor, target.id)


class Collected:
    name = "collected"

    def __init__(self) -> None:
        self.digests: list[tuple[str, str, str]] = []

    def deliver(
        self, session: Session, tenant_id: str, subject: str, body: str, now: datetime
    ) -> int:
        self.digests.append((tenant_id, subject, body))
        return 1


def test_the_digest_is_weekly_per_tenant(runtime: Runtime, clock: ManualClock) -> None:
    key = make_key(runtime, scopes=["keys:write", "mail:send"])
    sink = Collected()
    digest = ReviewDigest(runtime.sessions, runtime.review, clock, sink)
    assert digest.run() == [DEFAULT_TENANT, "other"]
    tenant, subject, body = sink.digests[0]
    assert (tenant, subject.endswith("1 high, 0 medium, 0 low")) == (DEFAULT_TENANT, True)
    assert key.view.id in body and "holds_keys_write" in body
    clock.advance(timedelta(days=6))
    assert digest.run() == []
    clock.advance(timedelta(days=1))
    assert digest.run() == [DEFAULT_TENANT, "other"]
    with runtime.sessions() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "review.digest"))
        assert {e.data["sink"] for e in events} == {"collected"}


def test_the_runtime_digest_mails_the_security_contacts(runtime: Runtime) -> None:
    runtime.webhooks.add_contact(OPERATOR, DEFAULT_TENANT, "secops@example.com")
    key = make_key(runtime, scopes=["keys:write", "mail:send"])
    runtime.review_digest.run()
    with runtime.sessions() as session:
        mails = [m for m in session.scalars(select(Message)) if "access review" in m.subject]
        events = {
            e.tenant_id: e.data
            for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "review.digest"))
        }
    (mail,) = mails
    assert (mail.tenant_id, list(mail.rcpt)) == (DEFAULT_TENANT, ["secops@example.com"])
    body = message_from_bytes(mail.mime).get_payload(decode=True)
    assert isinstance(body, bytes) and key.view.id in body.decode()
    assert events[DEFAULT_TENANT]["recipients"] == 1
    assert events["other"] == {"findings": 0, "sink": "security_contacts", "recipients": 0}
