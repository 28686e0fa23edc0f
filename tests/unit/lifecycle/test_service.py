"""KeyService: creation rules, transitions, rotation grace, tenancy and no-escalation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from keyguard.audit.models import AuditEvent
from keyguard.clock import ManualClock
from keyguard.errors import IllegalTransition, InvalidInput, NotFound, PermissionDenied
from keyguard.lifecycle.models import ApiKey
from keyguard.lifecycle.service import KeySpec
from keyguard.lifecycle.views import OPERATOR, Actor, KeyView
from keyguard.policy.restrictions import build_restrictions
from keyguard.runtime import Runtime
from tests.conftest import create_key


def test_created_key_is_stored_only_as_a_digest(runtime: Runtime) -> None:
    created = create_key(runtime)
    with runtime.sessions() as session:
        row = session.get(ApiKey, created.view.id)
    assert row is not None
    assert created.key.reveal() not in {row.digest, row.display_prefix, row.name}
    assert len(row.digest) == 64
    assert row.pepper_version == runtime.peppers.current.version


def test_views_never_carry_the_key_or_digest(runtime: Runtime) -> None:
    created = create_key(runtime)
    with runtime.sessions() as session:
        digest = session.get(ApiKey, created.view.id).digest  # type: ignore[union-attr]
    shown = str(runtime.keys.show(Actor("t"), created.view.id).to_json())
    assert created.key.reveal() not in shown
    assert digest not in shown


def test_expiry_defaults_to_the_tenant_default_and_is_capped(
    runtime: Runtime, clock: ManualClock
) -> None:
    created = create_key(runtime)
    assert created.view.expires_at - clock() == timedelta(days=90)
    with pytest.raises(InvalidInput) as info:
        create_key(runtime, expires_in=timedelta(days=366))
    assert info.value.code == "expiry_too_long"


def test_unknown_environment_is_refused(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput) as info:
        create_key(runtime, env="prod")
    assert info.value.code == "invalid_environment"


def test_failed_creation_writes_nothing(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        before = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    with pytest.raises(InvalidInput):
        create_key(runtime, scopes=["mail:send", "bogus:scope"])
    with runtime.sessions() as session:
        after = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
        assert session.scalars(select(ApiKey)).all() == []
    assert before == after


def test_each_change_appends_its_audit_event(runtime: Runtime) -> None:
    created = create_key(runtime)
    actor = Actor("operator:test")
    runtime.keys.suspend(actor, created.view.id, "investigating")
    runtime.keys.resume(actor, created.view.id)
    runtime.keys.revoke(actor, created.view.id, "leaked")
    with runtime.sessions() as session:
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target == created.view.id)
            .order_by(AuditEvent.seq)
        ).all()
    assert actions == ["key.created", "key.suspended", "key.resumed", "key.revoked"]


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        (["revoke"], "revoke"),
        (["revoke"], "resume"),
        (["revoke"], "rotate"),
        ([], "resume"),
        (["suspend"], "suspend"),
        (["suspend"], "rotate"),
    ],
)
def test_illegal_transitions_are_refused(runtime: Runtime, setup: list[str], action: str) -> None:
    key_id = create_key(runtime).view.id
    actor = Actor("operator:test")
    perform = {
        "revoke": lambda: runtime.keys.revoke(actor, key_id),
        "suspend": lambda: runtime.keys.suspend(actor, key_id),
        "resume": lambda: runtime.keys.resume(actor, key_id),
        "rotate": lambda: runtime.keys.rotate(actor, key_id, timedelta(hours=1)),
    }
    for step in setup:
        perform[step]()
    with pytest.raises(IllegalTransition):
        perform[action]()


def test_expired_key_cannot_be_resumed_or_rotated(runtime: Runtime, clock: ManualClock) -> None:
    key_id = create_key(runtime, expires_in=timedelta(days=1)).view.id
    clock.advance(timedelta(days=2))
    assert runtime.keys.show(Actor("t"), key_id).state == "expired"
    with pytest.raises(IllegalTransition):
        runtime.keys.rotate(Actor("t"), key_id, timedelta(hours=1))
    runtime.keys.revoke(Actor("t"), key_id)  # revoking an expired key is still allowed


def test_rotation_links_successor_and_sets_grace(runtime: Runtime, clock: ManualClock) -> None:
    old = create_key(runtime, scopes=["mail:send", "contacts:read"], name="app")
    new = runtime.keys.rotate(Actor("t"), old.view.id, timedelta(hours=24))
    assert new.view.parent_id == old.view.id
    assert set(new.view.scopes) == {"mail:send", "contacts:read"}
    assert new.view.name == "app"
    shown = runtime.keys.show(Actor("t"), old.view.id)
    assert shown.state == "rotating"
    assert shown.grace_until == clock() + timedelta(hours=24)
    clock.advance(timedelta(hours=24))
    assert runtime.keys.show(Actor("t"), old.view.id).state == "revoked"


def test_other_tenants_keys_look_missing(runtime: Runtime) -> None:
    key_id = create_key(runtime, tenant_id="other").view.id
    own_id = create_key(runtime).view.id
    tenant_actor = Actor("key:x", tenant_id="default", scopes=frozenset({"keys:*"}), env="live",
                         restrictions=build_restrictions())  # fmt: skip
    with pytest.raises(NotFound):
        runtime.keys.show(tenant_actor, key_id)
    with pytest.raises(NotFound):
        runtime.keys.revoke(tenant_actor, key_id)
    listed = runtime.keys.list(tenant_actor)
    assert own_id in {v.id for v in listed}  # all() of an empty list would prove nothing
    assert all(v.tenant_id == "default" for v in listed)


def _key_actor(runtime: Runtime, **overrides: object) -> Actor:
    values: dict[str, object] = {"scopes": ["keys:write", "mail:send"]}
    values.update(overrides)
    created = create_key(runtime, **values)
    view = created.view
    return Actor(
        id=f"key:{view.id}", tenant_id=view.tenant_id, scopes=frozenset(view.scopes),
        env=view.env, restrictions=view.restrictions, expires_at=view.expires_at,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "allowed"),
    [
        ({"scopes": ["mail:send"]}, True),
        ({"scopes": ["mail:send", "contacts:read"]}, False),
        ({"scopes": ["keys:*"]}, False),
        ({"scopes": ["mail:send"], "env": "test"}, False),
        ({"scopes": ["mail:send"], "expires_in": timedelta(days=200)}, False),
    ],
)
def test_a_key_can_only_create_keys_within_its_own_powers(
    runtime: Runtime, spec: dict[str, object], allowed: bool
) -> None:
    actor = _key_actor(runtime)
    full = {"tenant_id": "default", "env": "live", **spec}
    if allowed:
        runtime.keys.create(actor, KeySpec(**full))  # type: ignore[arg-type]
    else:
        with pytest.raises(PermissionDenied) as info:
            runtime.keys.create(actor, KeySpec(**full))  # type: ignore[arg-type]
        assert info.value.code == "privilege_escalation"


def test_restricted_creator_cannot_create_an_unrestricted_key(runtime: Runtime) -> None:
    actor = _key_actor(runtime, restrictions=build_restrictions(allowed_cidrs=["10.0.0.0/8"]))
    with pytest.raises(PermissionDenied):
        runtime.keys.create(actor, KeySpec(tenant_id="default", env="live", scopes=["mail:send"]))
    runtime.keys.create(
        actor,
        KeySpec(tenant_id="default", env="live", scopes=["mail:send"],
                restrictions=build_restrictions(allowed_cidrs=["10.2.0.0/16"])),
    )  # fmt: skip


def test_a_key_cannot_rotate_a_more_powerful_key(runtime: Runtime) -> None:
    actor = _key_actor(runtime)
    target = create_key(runtime, scopes=["audit:read"]).view.id
    with pytest.raises(PermissionDenied):
        runtime.keys.rotate(actor, target, timedelta(hours=1))


def test_list_pages_with_a_cursor(runtime: Runtime, clock: ManualClock) -> None:
    ids = []
    for _ in range(5):
        ids.append(create_key(runtime).view.id)
        clock.advance(timedelta(seconds=1))
    first = runtime.keys.list(Actor("t"), "default", limit=2)
    second = runtime.keys.list(Actor("t"), "default", limit=2, after=first[-1].id)
    third = runtime.keys.list(Actor("t"), "default", limit=2, after=second[-1].id)
    assert [v.id for v in first + second + third] == ids


def _actor_of(view: KeyView) -> Actor:
    return Actor(
        id=f"key:{view.id}", tenant_id=view.tenant_id, scopes=frozenset(view.scopes),
        env=view.env, restrictions=view.restrictions, expires_at=view.expires_at,
    )  # fmt: skip


def test_a_key_can_rotate_itself_but_its_successor_never_outlives_it(
    runtime: Runtime, clock: ManualClock
) -> None:
    view = create_key(
        runtime, scopes=["keys:write", "mail:send"], expires_in=timedelta(days=30)
    ).view
    clock.advance(timedelta(days=20))
    successor = runtime.keys.rotate(_actor_of(view), view.id, timedelta(hours=1))
    assert successor.view.expires_at == view.expires_at
    assert set(successor.view.scopes) == {"keys:write", "mail:send"}


def test_a_short_key_rotating_itself_again_and_again_still_dies_on_time(
    runtime: Runtime, clock: ManualClock
) -> None:
    view = create_key(runtime, scopes=["keys:write"], expires_in=timedelta(seconds=30)).view
    deadline = view.expires_at
    for _ in range(10):  # a leaked key trying to keep itself alive every 20 seconds
        if clock() >= deadline:
            break
        view = runtime.keys.rotate(_actor_of(view), view.id, timedelta(0)).view
        assert view.expires_at <= deadline
        clock.advance(timedelta(seconds=20))
    assert clock() >= deadline
    assert runtime.keys.show(Actor("t"), view.id).state == "expired"


def test_a_key_can_rotate_the_key_it_made_with_the_default_expiry(
    runtime: Runtime, clock: ManualClock
) -> None:
    maker = create_key(runtime, scopes=["keys:write", "mail:send"]).view
    clock.advance(
        timedelta(hours=1)
    )  # the child is made later: its expiry is capped at the maker's
    child = runtime.keys.create(
        _actor_of(maker), KeySpec(tenant_id="default", env="live", scopes=["mail:send"])
    ).view
    assert child.expires_at == maker.expires_at
    clock.advance(timedelta(days=1))
    successor = runtime.keys.rotate(_actor_of(maker), child.id, timedelta(hours=1)).view
    assert successor.expires_at == maker.expires_at


def test_an_operator_rotation_renews_the_key_for_its_full_lifetime(
    runtime: Runtime, clock: ManualClock
) -> None:
    view = create_key(runtime, expires_in=timedelta(days=30)).view
    clock.advance(timedelta(days=20))
    successor = runtime.keys.rotate(OPERATOR, view.id, timedelta(hours=1)).view
    assert successor.expires_at == clock() + timedelta(days=30)
