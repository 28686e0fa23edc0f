"""Verifier: every outcome, the cache, invalidation, pepper versions and last_used batching."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from keyguard.clock import ManualClock
from keyguard.keys import Pepper, PepperRing, generate_key
from keyguard.keys.format import CHECKSUM_LENGTH, encode_checksum
from keyguard.lifecycle.models import ApiKey
from keyguard.lifecycle.views import Actor
from keyguard.policy.restrictions import build_restrictions
from keyguard.runtime import Runtime
from keyguard.verification import Verifier
from tests.conftest import cache, create_key

OPERATOR = Actor("operator:test")


@contextmanager
def count_queries(runtime: Runtime) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(runtime.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(runtime.engine, "before_cursor_execute", record)


def test_valid_key_is_allowed(runtime: Runtime) -> None:
    created = create_key(runtime)
    decision = runtime.verifier.verify(created.key.reveal(), scope="mail:send")
    assert decision.allowed
    assert decision.key is not None and decision.key.id == created.view.id


def _forged_with_valid_checksum() -> str:
    # A well-formed key that was never issued: its checksum is right, its digest unknown.
    head = generate_key("live").reveal()[:-CHECKSUM_LENGTH]
    import zlib

    return head + encode_checksum(zlib.crc32(head.encode()))


@pytest.mark.parametrize(
    "presented", ["", "garbage", "kg_live_" + "A" * 32, "Bearer kg_live_x", "kg_live_" + "é" * 32]
)
def test_strings_that_are_not_keys_are_invalid_without_any_query(
    runtime: Runtime, presented: str
) -> None:
    with count_queries(runtime) as statements:
        decision = runtime.verifier.verify(presented)
    assert decision.outcome == "invalid_key"
    assert statements == []


def test_unknown_but_well_formed_key_is_invalid_and_cached_negatively(runtime: Runtime) -> None:
    forged = _forged_with_valid_checksum()
    assert runtime.verifier.verify(forged).outcome == "invalid_key"
    with count_queries(runtime) as statements:
        assert runtime.verifier.verify(forged).outcome == "invalid_key"
    assert statements == []


def test_cache_hit_needs_no_query(runtime: Runtime) -> None:
    created = create_key(runtime)
    runtime.verifier.verify(created.key.reveal())
    with count_queries(runtime) as statements:
        assert runtime.verifier.verify(created.key.reveal()).allowed
    assert statements == []


@pytest.mark.parametrize(("action", "outcome"), [("revoke", "revoked"), ("suspend", "suspended")])
def test_state_changes_take_effect_at_once_despite_the_cache(
    runtime: Runtime, action: str, outcome: str
) -> None:
    created = create_key(runtime)
    assert runtime.verifier.verify(created.key.reveal()).allowed  # now cached
    getattr(runtime.keys, action)(OPERATOR, created.view.id)
    assert runtime.verifier.verify(created.key.reveal()).outcome == outcome


def test_expired_key_is_refused(runtime: Runtime, clock: ManualClock) -> None:
    created = create_key(runtime, expires_in=timedelta(hours=1))
    assert runtime.verifier.verify(created.key.reveal()).allowed
    clock.advance(timedelta(hours=1))
    assert runtime.verifier.verify(created.key.reveal()).outcome == "expired"


def test_rotated_key_works_in_grace_then_says_key_rotated(
    runtime: Runtime, clock: ManualClock
) -> None:
    old = create_key(runtime)
    new = runtime.keys.rotate(OPERATOR, old.view.id, timedelta(hours=2))
    assert runtime.verifier.verify(old.key.reveal()).allowed
    assert runtime.verifier.verify(new.key.reveal()).allowed
    clock.advance(timedelta(hours=2))
    decision = runtime.verifier.verify(old.key.reveal())
    assert decision.outcome == "revoked"
    assert decision.problem_code == "key_rotated"  # type: ignore[union-attr]
    assert runtime.verifier.verify(new.key.reveal()).allowed


def test_scope_ip_and_environment_denials(runtime: Runtime) -> None:
    created = create_key(
        runtime, env="test", scopes=["contacts:*"],
        restrictions=build_restrictions(allowed_cidrs=["203.0.113.0/24", "2001:db8::/32"]),
    )  # fmt: skip
    key = created.key.reveal()
    verify = runtime.verifier.verify
    assert verify(key, scope="contacts:write", ip="203.0.113.5").allowed
    assert verify(key, scope="contacts:read", ip="2001:db8::5").allowed
    assert verify(key, scope="mail:send", ip="203.0.113.5").outcome == "denied_scope"
    assert verify(key, scope="contacts:read", ip="198.51.100.1").outcome == "denied_ip"
    assert verify(key, scope="contacts:read", ip=None).outcome == "denied_ip"
    assert verify(key, scope="contacts:read", ip="not-an-ip").outcome == "denied_ip"
    assert verify(key, ip="203.0.113.5", env="live").outcome == "denied_env"


def test_outcomes_are_counted(runtime: Runtime) -> None:
    created = create_key(runtime)
    runtime.verifier.verify(created.key.reveal())
    runtime.verifier.verify("junk")
    runtime.verifier.verify(created.key.reveal(), scope="audit:read")
    assert runtime.verifier.outcomes["ok"] == 1
    assert runtime.verifier.outcomes["invalid_key"] == 1
    assert runtime.verifier.outcomes["denied_scope"] == 1


def test_last_used_is_written_in_batches_not_per_verification(
    runtime: Runtime, clock: ManualClock
) -> None:
    created = create_key(runtime)
    runtime.verifier.verify(created.key.reveal())
    with count_queries(runtime) as statements:
        for _ in range(50):
            runtime.verifier.verify(created.key.reveal())
    assert statements == []
    assert runtime.verifier.last_used.flush(runtime.sessions) == 1
    with runtime.sessions() as session:
        row = session.get(ApiKey, created.view.id)
        assert row is not None and row.last_used_at == clock()


def test_keys_hashed_under_an_older_pepper_keep_verifying(
    runtime: Runtime, clock: ManualClock
) -> None:
    created = create_key(runtime)
    newer = Pepper("v9", b"a-brand-new-pepper-with-enough-bytes-0123")
    rotated = Verifier(
        runtime.sessions, PepperRing(newer, [runtime.peppers.current]), clock, cache(clock)
    )
    assert rotated.verify(created.key.reveal()).allowed
    stranger = Verifier(runtime.sessions, PepperRing(newer), clock, cache(clock))
    assert stranger.verify(created.key.reveal()).outcome == "invalid_key"


def test_a_change_made_by_another_process_reaches_this_cache_through_the_feed(
    runtime: Runtime, settings: Any, clock: ManualClock
) -> None:
    other = Runtime.build(settings, clock)  # another node or the CLI, same database
    try:
        created = create_key(runtime)
        runtime.changes.poll()  # establishes the starting point
        assert runtime.verifier.verify(created.key.reveal()).allowed  # now cached here
        other.keys.revoke(OPERATOR, created.view.id, "leaked")
        assert runtime.verifier.verify(created.key.reveal()).allowed  # stale until the poll
        assert runtime.changes.poll() == 1
        assert runtime.verifier.verify(created.key.reveal()).outcome == "revoked"
    finally:
        other.close()


def test_an_allowed_use_reports_the_keys_previous_use(runtime: Runtime, clock: ManualClock) -> None:
    created = create_key(runtime)
    first = runtime.verifier.verify(created.key.reveal())
    assert first.previous_use is None  # never used before
    used_at = clock()
    clock.advance(timedelta(minutes=5))
    second = runtime.verifier.verify(created.key.reveal())
    assert second.previous_use == used_at


def test_a_refusal_reports_the_previous_use_without_counting_as_one(
    runtime: Runtime, clock: ManualClock
) -> None:
    created = create_key(runtime)
    runtime.verifier.verify(created.key.reveal())
    used_at = clock()
    clock.advance(timedelta(minutes=1))
    refused = runtime.verifier.verify(created.key.reveal(), scope="keys:write")
    assert not refused.allowed
    assert refused.previous_use == used_at
    clock.advance(timedelta(minutes=1))
    assert runtime.verifier.verify(created.key.reveal()).previous_use == used_at


def test_the_previous_use_survives_a_flush_and_a_new_process(
    runtime: Runtime, clock: ManualClock
) -> None:
    created = create_key(runtime)
    runtime.verifier.verify(created.key.reveal())
    used_at = clock()
    runtime.flush_last_used()
    other = Verifier(runtime.sessions, runtime.peppers, clock, cache(clock))  # a new process
    clock.advance(timedelta(days=30))
    assert other.verify(created.key.reveal()).previous_use == used_at
