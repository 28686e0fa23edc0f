"""Lazy re-hashing: a key verified under an older pepper moves to the current one at the next
flush — batched with the last-used times, never a write per verification."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select

from keyguard.audit.models import AuditEvent
from keyguard.clock import ManualClock
from keyguard.keys import Pepper, PepperRing, digest_key
from keyguard.lifecycle.models import ApiKey
from keyguard.runtime import Runtime
from keyguard.verification import Verifier
from tests.conftest import cache, create_key

V2 = Pepper("v2", ("second-pepper-" + "fedcba9876543210" * 3).encode())


def _after_rotation(runtime: Runtime, clock: ManualClock) -> Verifier:
    """A process started after the pepper rotation: v2 current, v1 still verifying."""
    return Verifier(
        runtime.sessions, PepperRing(V2, [runtime.peppers.current]), clock, cache(clock)
    )


def _row(runtime: Runtime, key_id: str) -> ApiKey:
    with runtime.sessions() as session:
        row = session.get(ApiKey, key_id)
    assert row is not None
    return row


@contextmanager
def _statements(runtime: Runtime) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(runtime.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(runtime.engine, "before_cursor_execute", record)


def test_a_key_used_once_after_a_pepper_rotation_is_stored_under_the_new_pepper(
    runtime: Runtime, clock: ManualClock
) -> None:
    created = create_key(runtime)
    assert _row(runtime, created.view.id).pepper_version == "v1"
    verifier = _after_rotation(runtime, clock)
    assert verifier.verify(created.key.reveal()).allowed
    assert _row(runtime, created.view.id).pepper_version == "v1"  # nothing written yet
    verifier.last_used.flush(runtime.sessions)
    row = _row(runtime, created.view.id)
    assert (row.pepper_version, row.digest) == ("v2", digest_key(V2, created.key))
    assert row.last_used_at == clock()
    # v1 can now be retired: a process that no longer has it still verifies the key.
    without_v1 = Verifier(runtime.sessions, PepperRing(V2), clock, cache(clock))
    assert without_v1.verify(created.key.reveal()).allowed


def test_rehashes_are_one_batch_per_flush_not_a_write_per_verification(
    runtime: Runtime, clock: ManualClock
) -> None:
    keys = [create_key(runtime).key.reveal() for _ in range(5)]
    verifier = _after_rotation(runtime, clock)
    with _statements(runtime) as during:
        for _ in range(3):
            for key in keys:
                assert verifier.verify(key).allowed
    assert not [s for s in during if s.lstrip().upper().startswith("UPDATE")]
    assert verifier.rehash.pending() == 5
    with _statements(runtime) as flush:
        verifier.last_used.flush(runtime.sessions)
    rehash_updates = [s for s in flush if s.startswith("UPDATE") and "pepper_version" in s]
    assert len(rehash_updates) == 1  # one executemany for the whole batch
    with runtime.sessions() as session:
        versions = set(session.scalars(select(ApiKey.pepper_version)))
    assert versions == {"v2"}


def test_the_cache_keeps_answering_across_a_rehash(runtime: Runtime, clock: ManualClock) -> None:
    created = create_key(runtime)
    verifier = _after_rotation(runtime, clock)
    assert verifier.verify(created.key.reveal()).allowed
    verifier.last_used.flush(runtime.sessions)
    with _statements(runtime) as reload:
        decision = verifier.verify(created.key.reveal())
    assert decision.allowed and decision.key is not None
    assert decision.key.pepper_version == "v2"
    assert len([s for s in reload if s.startswith("SELECT")]) == 1  # reloaded once
    with _statements(runtime) as cached:
        assert verifier.verify(created.key.reveal()).allowed
    assert cached == []
    assert verifier.rehash.pending() == 0  # nothing left to move


def test_a_rehash_recorded_by_two_processes_is_applied_once(
    runtime: Runtime, clock: ManualClock
) -> None:
    created = create_key(runtime)
    first, second = _after_rotation(runtime, clock), _after_rotation(runtime, clock)
    assert first.verify(created.key.reveal()).allowed
    assert second.verify(created.key.reveal()).allowed
    first.last_used.flush(runtime.sessions)
    second.last_used.flush(runtime.sessions)  # its UPDATE matches nothing: the digest moved
    assert _row(runtime, created.view.id).digest == digest_key(V2, created.key)
    with runtime.sessions() as session:
        events = list(
            session.scalars(select(AuditEvent.data).where(AuditEvent.action == "keys.rehashed"))
        )
    assert events == [{"keys": 1, "pepper_version": "v2"}]


def test_denied_keys_are_not_rehashed(runtime: Runtime, clock: ManualClock) -> None:
    created = create_key(runtime, scopes=["contacts:read"])
    verifier = _after_rotation(runtime, clock)
    assert not verifier.verify(created.key.reveal(), scope="mail:send").allowed
    assert verifier.rehash.pending() == 0


def test_a_rehash_never_moves_a_key_that_changed_meanwhile(
    runtime: Runtime, clock: ManualClock
) -> None:
    created = create_key(runtime)
    verifier = _after_rotation(runtime, clock)
    assert verifier.verify(created.key.reveal()).allowed
    with runtime.sessions.begin() as session:  # another pepper move got there first
        row = session.get(ApiKey, created.view.id)
        assert row is not None
        row.pepper_version, row.digest = "v3", "0" * 64
    verifier.last_used.flush(runtime.sessions)
    assert _row(runtime, created.view.id).pepper_version == "v3"
