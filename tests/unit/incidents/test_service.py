"""IncidentService: containment in one transaction, reissue, blast radius, states, scrubbing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from keyguard.audit.models import AuditEvent
from keyguard.clock import ManualClock
from keyguard.errors import IllegalTransition, InvalidInput, NotFound
from keyguard.incidents import IncidentClosed, IncidentEvent, OpenRequest
from keyguard.incidents.models import Incident, IncidentStep
from keyguard.keys import generate_key
from keyguard.lifecycle.service import KeySpec
from keyguard.lifecycle.views import OPERATOR, Actor, CreatedKey
from keyguard.policy.restrictions import build_restrictions
from keyguard.runtime import Runtime
from tests.conftest import create_key


def _as_key(created: CreatedKey) -> Actor:
    """The actor a key is when it acts through the API."""
    view = created.view
    return Actor(
        id=f"key:{view.id}",
        tenant_id=view.tenant_id,
        scopes=frozenset(view.scopes),
        env=view.env,
        restrictions=view.restrictions,
        expires_at=view.expires_at,
    )


def _admin(runtime: Runtime, **overrides: object) -> CreatedKey:
    return create_key(runtime, scopes=["keys:*", "mail:send"], **overrides)


def _open(runtime: Runtime, key_id: str, **options: object) -> object:
    return runtime.incidents.open(OPERATOR, OpenRequest(key_id=key_id, reason="leaked", **options))  # type: ignore[arg-type]


def _verify(runtime: Runtime, created: CreatedKey) -> str:
    return runtime.verifier.verify(created.key.reveal()).outcome


def test_opening_revokes_the_key_at_once_in_this_process(runtime: Runtime) -> None:
    created = create_key(runtime)
    assert _verify(runtime, created) == "ok"  # cached now
    opened = runtime.incidents.open(OPERATOR, OpenRequest(created.view.id, "pasted in a chat"))
    assert opened.stopped == (created.view.id,)
    assert _verify(runtime, created) == "revoked"
    assert runtime.keys.show(OPERATOR, created.view.id).state_reason == (
        f"incident {opened.incident.id}"
    )


def test_opening_records_the_timeline_and_audit_events_at_the_clock_time(
    runtime: Runtime, clock: ManualClock
) -> None:
    created = create_key(runtime)
    opened = runtime.incidents.open(OPERATOR, OpenRequest(created.view.id, "leaked"))
    incident = opened.incident
    assert (incident.state, incident.opened_at, incident.response) == ("open", clock(), "revoke")
    kinds = [s.kind for s in incident.steps]
    assert kinds == ["opened", "key.revoked", "blast_radius"]
    with runtime.sessions() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.seq > 0).order_by(AuditEvent.seq)
        ).all()
    assert actions[-2:] == ["incident.opened", "key.revoked"]


def test_the_change_feed_carries_the_revocation_to_other_processes(runtime: Runtime) -> None:
    created = create_key(runtime)
    seen: list[str] = []
    from keyguard.verification import ChangeFeed

    feed = ChangeFeed(runtime.sessions, seen.append)
    feed.poll()  # the starting point, as every process takes it
    runtime.incidents.open(OPERATOR, OpenRequest(created.view.id, "leaked"))
    feed.poll()
    assert created.view.id in seen


def test_quarantine_suspends_and_a_resolution_can_resume(runtime: Runtime) -> None:
    created = create_key(runtime)
    opened = runtime.incidents.open(
        OPERATOR, OpenRequest(created.view.id, "odd traffic", quarantine=True)
    )
    assert _verify(runtime, created) == "suspended"
    resolved = runtime.incidents.resolve(
        OPERATOR, opened.incident.id, note="false alarm: a new CI runner", resume=True
    )
    assert resolved.state == "resolved"
    assert _verify(runtime, created) == "ok"


def test_a_revoked_key_cannot_be_resumed_by_resolving(runtime: Runtime) -> None:
    created = create_key(runtime)
    opened = runtime.incidents.open(OPERATOR, OpenRequest(created.view.id, "leaked"))
    with pytest.raises(InvalidInput) as info:
        runtime.incidents.resolve(OPERATOR, opened.incident.id, resume=True)
    assert info.value.code == "not_quarantined"


def test_reissue_hands_out_a_successor_with_the_same_powers_and_name(runtime: Runtime) -> None:
    created = create_key(
        runtime,
        env="test",
        scopes=["mail:send", "contacts:read"],
        name="billing mailer",
        restrictions=build_restrictions(allowed_cidrs=["10.0.0.0/8"], sender_domains=["a.example"]),
    )
    opened = runtime.incidents.open(OPERATOR, OpenRequest(created.view.id, "leaked", reissue=True))
    assert opened.successor is not None and opened.successor.key is not None
    new = runtime.keys.show(OPERATOR, opened.successor.id)
    old = created.view
    assert (new.env, new.scopes, new.name, new.restrictions) == (
        old.env,
        old.scopes,
        old.name,
        old.restrictions,
    )
    assert new.parent_id == old.id and new.state == "active"
    assert opened.incident.successor_id == new.id
    assert runtime.verifier.verify(opened.successor.key.reveal(), ip="10.1.2.3").outcome == "ok"
    assert opened.to_json()["successor"]["key"] == opened.successor.key.reveal()
    assert "successor.issued" in [s.kind for s in opened.incident.steps]


def test_a_reissue_that_fails_is_on_the_timeline_and_the_key_stays_revoked(
    runtime: Runtime,
) -> None:
    created = create_key(runtime)
    opened = runtime.incidents.open(
        OPERATOR,
        OpenRequest(created.view.id, "leaked", reissue=True, deliver="openbao:secret/apps/x"),
    )
    assert opened.successor is None and opened.reissue_error is not None
    assert opened.incident.steps[-1].kind == "reissue.failed"
    assert _verify(runtime, created) == "revoked"


def test_the_blast_radius_lists_keys_made_down_the_chain(runtime: Runtime) -> None:
    root = _admin(runtime)
    child = runtime.keys.create(_as_key(root), KeySpec("default", "live", ["keys:*", "mail:send"]))
    grandchild = runtime.keys.create(_as_key(child), KeySpec("default", "live", ["mail:send"]))
    unrelated = create_key(runtime)
    opened = runtime.incidents.open(OPERATOR, OpenRequest(root.view.id, "leaked"))
    assert opened.incident.blast_radius == [child.view.id, grandchild.view.id]
    assert opened.stopped == (root.view.id,)
    assert _verify(runtime, grandchild) == "ok"
    assert _verify(runtime, unrelated) == "ok"


def test_cascade_revokes_the_blast_radius_in_the_same_transaction(runtime: Runtime) -> None:
    root = _admin(runtime)
    child = runtime.keys.create(_as_key(root), KeySpec("default", "live", ["keys:*", "mail:send"]))
    grandchild = runtime.keys.create(_as_key(child), KeySpec("default", "live", ["mail:send"]))
    opened = runtime.incidents.open(OPERATOR, OpenRequest(root.view.id, "leaked", cascade=True))
    assert set(opened.stopped) == {root.view.id, child.view.id, grandchild.view.id}
    assert _verify(runtime, grandchild) == "revoked"
    assert [s.kind for s in opened.incident.steps].count("cascade.revoked") == 2


def test_an_open_that_fails_half_way_leaves_nothing_behind(runtime: Runtime) -> None:
    root = _admin(runtime)
    child = runtime.keys.create(_as_key(root), KeySpec("default", "live", ["mail:send"]))
    runtime.keys.rotate(OPERATOR, root.view.id)  # a key in its grace window cannot be suspended
    with pytest.raises(IllegalTransition):
        runtime.incidents.open(
            OPERATOR, OpenRequest(root.view.id, "leaked", quarantine=True, cascade=True)
        )
    assert _verify(runtime, child) == "ok"
    with runtime.sessions() as session:
        assert session.scalars(select(Incident)).all() == []
        assert session.scalars(select(IncidentStep)).all() == []
        actions = session.scalars(select(AuditEvent.action)).all()
    assert not [a for a in actions if a.startswith("incident.")]


def test_a_key_pasted_into_reason_note_and_owner_is_masked(runtime: Runtime) -> None:
    created = create_key(runtime)
    pasted = generate_key("live").reveal()
    opened = runtime.incidents.open(
        OPERATOR, OpenRequest(created.view.id, f"found {pasted} in a gist", owner=pasted)
    )
    runtime.incidents.note(OPERATOR, opened.incident.id, f"also {pasted}")
    with runtime.sessions() as session:
        stored = [
            *session.scalars(select(Incident.reason)),
            *session.scalars(select(Incident.owner)),
            *session.scalars(select(IncidentStep.note)),
            *[str(d) for d in session.scalars(select(IncidentStep.data))],
            *[str(d) for d in session.scalars(select(AuditEvent.data))],
            *[r or "" for r in session.scalars(select(AuditEvent.target))],
        ]
    assert stored and not any(pasted in text for text in stored if text)
    assert any(pasted[:12] in text for text in stored if text)  # the display prefix stays


def test_states_move_open_contained_resolved(runtime: Runtime, clock: ManualClock) -> None:
    created = create_key(runtime)
    incident = runtime.incidents.open(OPERATOR, OpenRequest(created.view.id, "leaked")).incident
    clock.advance(timedelta(minutes=5))
    contained = runtime.incidents.contain(OPERATOR, incident.id, note="successor deployed")
    assert (contained.state, contained.contained_at) == ("contained", clock())
    with pytest.raises(IllegalTransition):
        runtime.incidents.contain(OPERATOR, incident.id)
    clock.advance(timedelta(hours=1))
    resolved = runtime.incidents.resolve(OPERATOR, incident.id, note="post-mortem done")
    assert (resolved.state, resolved.resolved_at) == ("resolved", clock())
    with pytest.raises(IncidentClosed):
        runtime.incidents.contain(OPERATOR, incident.id)
    noted = runtime.incidents.note(OPERATOR, incident.id, "follow-up: rotate the CI secret")
    assert [s.kind for s in noted.steps][-3:] == ["contained", "resolved", "note"]


def test_contain_can_turn_a_quarantine_into_a_revocation(runtime: Runtime) -> None:
    created = create_key(runtime)
    incident = runtime.incidents.open(
        OPERATOR, OpenRequest(created.view.id, "odd", quarantine=True)
    ).incident
    contained = runtime.incidents.contain(OPERATOR, incident.id, revoke=True)
    assert contained.response == "revoke"
    assert _verify(runtime, created) == "revoked"


def test_an_owner_is_assigned_on_the_timeline(runtime: Runtime) -> None:
    created = create_key(runtime)
    incident = runtime.incidents.open(OPERATOR, OpenRequest(created.view.id, "leaked")).incident
    assigned = runtime.incidents.assign(OPERATOR, incident.id, "sec-team")
    assert assigned.owner == "sec-team"
    assert assigned.steps[-1].data == {"owner": "sec-team"}


def test_another_tenants_incident_looks_missing(runtime: Runtime) -> None:
    mine = create_key(runtime)
    theirs = _admin(runtime, tenant_id="other")
    incident = runtime.incidents.open(OPERATOR, OpenRequest(mine.view.id, "leaked")).incident
    with pytest.raises(NotFound):
        runtime.incidents.show(_as_key(theirs), incident.id)
    with pytest.raises(NotFound):
        runtime.incidents.open(_as_key(theirs), OpenRequest(mine.view.id, "leaked"))
    assert runtime.incidents.list(_as_key(theirs)) == []
    assert [i.id for i in runtime.incidents.list(OPERATOR)] == [incident.id]


def test_a_reason_is_required(runtime: Runtime) -> None:
    created = create_key(runtime)
    with pytest.raises(InvalidInput) as info:
        runtime.incidents.open(OPERATOR, OpenRequest(created.view.id, "  "))
    assert info.value.code == "reason_required"


def test_the_notifier_hears_of_the_incident_after_the_commit(runtime: Runtime) -> None:
    created = create_key(runtime)
    heard: list[tuple[IncidentEvent, str]] = []

    class Recorder:
        def notify(self, event: IncidentEvent) -> None:
            state = runtime.keys.show(OPERATOR, created.view.id).state  # committed already
            heard.append((event, state))

    runtime.incidents.notifier = Recorder()
    incident = runtime.incidents.open(OPERATOR, OpenRequest(created.view.id, "leaked")).incident
    runtime.incidents.resolve(OPERATOR, incident.id)
    assert [(e.type, s) for e, s in heard] == [
        ("incident.opened", "revoked"),
        ("key.revoked", "revoked"),
        ("incident.resolved", "revoked"),
    ]


def test_a_failing_notifier_does_not_undo_the_containment(runtime: Runtime) -> None:
    created = create_key(runtime)

    class Broken:
        def notify(self, event: IncidentEvent) -> None:
            raise RuntimeError("webhook endpoint down")

    runtime.incidents.notifier = Broken()
    opened = runtime.incidents.open(OPERATOR, OpenRequest(created.view.id, "leaked"))
    assert opened.incident.state == "open"
    assert _verify(runtime, created) == "revoked"
