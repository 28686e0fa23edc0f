"""What a commit announces: the keys its audit events name, and whether throttles changed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keyguard.clock import ManualClock
from keyguard.fanout import Change, changes, watch
from keyguard.lifecycle.views import OPERATOR
from keyguard.ratelimit import clear_override, set_override
from keyguard.runtime import Runtime
from tests.conftest import create_key


@pytest.fixture
def announced(runtime: Runtime) -> list[Change]:
    changes: list[Change] = []
    watch(runtime.sessions, changes.append)
    return changes


def test_a_revocation_is_announced_once_committed_with_its_key(
    runtime: Runtime, announced: list[Change]
) -> None:
    key = create_key(runtime).view.id
    announced.clear()  # the creation's own announcement
    runtime.keys.revoke(OPERATOR, key)
    assert announced == [Change(frozenset({key}))]


@pytest.mark.parametrize("action", ["suspend", "rotate"])
def test_suspend_and_rotate_are_announced(
    runtime: Runtime, announced: list[Change], action: str
) -> None:
    key = create_key(runtime).view.id
    announced.clear()
    getattr(runtime.keys, action)(OPERATOR, key)
    assert any(key in change.keys for change in announced)


def test_a_rolled_back_transaction_announces_nothing(
    runtime: Runtime, announced: list[Change], clock: ManualClock
) -> None:
    key = create_key(runtime).view.id
    announced.clear()
    session = runtime.sessions()
    with session.begin():
        runtime.keys.stop_in(session, OPERATOR, key, now=clock())
        session.rollback()  # the caller gives up before the commit
    session.close()
    with runtime.sessions.begin():
        pass  # a later, empty transaction on the same factory
    assert announced == []


def test_setting_and_lifting_a_throttle_are_announced(
    runtime: Runtime, announced: list[Change], clock: ManualClock
) -> None:
    key = create_key(runtime).view.id
    announced.clear()
    with runtime.sessions.begin() as session:
        set_override(
            session, clock(), key_id=key, tenant_id="default", per_minute=1,
            until=clock() + timedelta(minutes=5), reason="test",
        )  # fmt: skip
    with runtime.sessions.begin() as session:
        assert clear_override(session, key)
    assert [change.throttles for change in announced] == [True, True]


def test_a_bulk_stop_is_announced_in_several_messages(
    runtime: Runtime, announced: list[Change], clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "MAX_KEYS", 2)
    keys = {create_key(runtime).view.id for _ in range(3)}
    announced.clear()
    with runtime.sessions.begin() as session:
        for key in keys:
            runtime.keys.stop_in(session, OPERATOR, key, now=clock())
    assert set().union(*(change.keys for change in announced)) == keys
    assert sorted(len(change.keys) for change in announced) == [1, 2]


def test_a_failing_publisher_does_not_fail_the_commit(runtime: Runtime) -> None:
    def broken(change: Change) -> None:
        raise ConnectionError("redis is away")

    watch(runtime.sessions, broken)
    key = create_key(runtime).view.id
    assert runtime.keys.revoke(OPERATOR, key).state == "revoked"


def test_a_message_round_trips_and_garbage_is_ignored() -> None:
    change = Change(frozenset({"key_a", "key_b"}), throttles=True)
    assert Change.from_json(change.to_json()) == change
    assert Change.from_json(b"not json") is None
    assert Change.from_json('{"keys": [1]}') is None
    assert Change.from_json('{"nothing": true}') is None
