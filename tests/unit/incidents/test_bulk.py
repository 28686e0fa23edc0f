"""Tenant-wide response: the dry run lists exactly what the real run does, and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keyguard.clock import ManualClock
from keyguard.errors import InvalidInput
from keyguard.incidents import Selector
from keyguard.lifecycle.views import OPERATOR
from keyguard.runtime import Runtime
from tests.conftest import create_key


def _states(runtime: Runtime, *ids: str) -> list[str]:
    return [runtime.keys.show(OPERATOR, i).state for i in ids]


def test_a_dry_run_lists_the_keys_and_revokes_none(runtime: Runtime) -> None:
    live, test = create_key(runtime), create_key(runtime, env="test")
    create_key(runtime, tenant_id="other")
    result = runtime.tenant_response.revoke(
        OPERATOR, Selector("default", all=True), reason="breach", dry_run=True
    )
    assert sorted(p.key.id for p in result.keys) == sorted([live.view.id, test.view.id])
    assert [p.key.state for p in result.keys] == ["revoked", "revoked"]  # what it would be
    assert _states(runtime, live.view.id, test.view.id) == ["active", "active"]


def test_the_real_run_revokes_what_the_dry_run_listed(runtime: Runtime) -> None:
    live, test = create_key(runtime), create_key(runtime, env="test")
    theirs = create_key(runtime, tenant_id="other")
    selector = Selector("default", all=True)
    planned = runtime.tenant_response.revoke(OPERATOR, selector, reason=None, dry_run=True)
    done = runtime.tenant_response.revoke(OPERATOR, selector, reason=None, dry_run=False)
    assert [p.key.id for p in done.keys] == [p.key.id for p in planned.keys]
    assert _states(runtime, live.view.id, test.view.id, theirs.view.id) == [
        "revoked",
        "revoked",
        "active",
    ]
    assert runtime.verifier.verify(live.key.reveal()).outcome == "revoked"


def test_filters_narrow_by_environment_age_and_scope(runtime: Runtime, clock: ManualClock) -> None:
    old = create_key(runtime, scopes=["contacts:read"])
    clock.advance(timedelta(days=2))
    cutoff = clock()
    new_reader = create_key(runtime, scopes=["contacts:*"])
    sender = create_key(runtime, env="test")
    revoke = runtime.tenant_response.revoke

    def ids(selector: Selector) -> list[str]:
        return [p.key.id for p in revoke(OPERATOR, selector, reason=None, dry_run=True).keys]

    assert ids(Selector("default", env="test")) == [sender.view.id]
    assert ids(Selector("default", created_before=cutoff)) == [old.view.id]
    assert ids(Selector("default", scope="contacts:read")) == [
        old.view.id,
        new_reader.view.id,
    ]  # by age


def test_already_revoked_keys_are_not_listed(runtime: Runtime) -> None:
    gone = create_key(runtime)
    runtime.keys.revoke(OPERATOR, gone.view.id)
    result = runtime.tenant_response.revoke(
        OPERATOR, Selector("default", all=True), reason=None, dry_run=True
    )
    assert result.keys == []


def test_a_selector_must_choose_something(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput) as info:
        runtime.tenant_response.revoke(OPERATOR, Selector("default"), reason=None, dry_run=True)
    assert info.value.code == "selector_required"


def test_rotate_dry_run_says_how_each_key_would_rotate(runtime: Runtime) -> None:
    handed = create_key(runtime)
    result = runtime.tenant_response.rotate(
        OPERATOR, Selector("default", all=True), grace=timedelta(hours=1), dry_run=True
    )
    assert [(p.key.id, p.action) for p in result.keys] == [(handed.view.id, "rotate_handed_out")]
    assert _states(runtime, handed.view.id) == ["active"]


def test_rotate_hands_out_successors_once(runtime: Runtime) -> None:
    handed = create_key(runtime)
    result = runtime.tenant_response.rotate(
        OPERATOR, Selector("default", all=True), grace=timedelta(hours=1), dry_run=False
    )
    (planned,) = result.keys
    assert planned.successor_key is not None
    assert runtime.verifier.verify(planned.successor_key).outcome == "ok"
    assert _states(runtime, handed.view.id) == ["rotating"]
