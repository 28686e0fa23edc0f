"""Stored secrets: versions, row binding, the caller's transaction, and batched rewrap."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import ManualClock
from keyguard.errors import InvalidInput, NotFound
from keyguard.secrets.interfaces import SecretValue, WrappedKey
from keyguard.secrets.local import LocalKeyWrapper
from keyguard.secrets.models import StoredSecret
from keyguard.secrets.service import (
    read_secret,
    rewrap_all,
    store_secret,
    wrapper_key_usage,
)
from tests.unit.secrets.factories import stored_secrets

Sessions = sessionmaker[Session]


def _store(
    sessions: Sessions,
    wrapper: LocalKeyWrapper,
    clock: ManualClock,
    value: str,
    *,
    tenant: str = "tenant-a",
    name: str = "relay",
) -> StoredSecret:
    with sessions.begin() as session:
        return store_secret(
            session,
            wrapper,
            tenant_id=tenant,
            purpose="smtp_credentials",
            name=name,
            value=SecretValue(value),
            clock=clock,
        )


def _read(
    sessions: Sessions, wrapper: LocalKeyWrapper, *, tenant: str = "tenant-a", **kw: object
) -> SecretValue:
    with sessions() as session:
        return read_secret(
            session, wrapper, tenant_id=tenant, purpose="smtp_credentials", name="relay", **kw
        )  # type: ignore[arg-type]


def test_store_then_read(
    sessions: Sessions, local_wrapper: LocalKeyWrapper, clock: ManualClock
) -> None:
    _store(sessions, local_wrapper, clock, "pw-1")
    value = _read(sessions, local_wrapper)
    assert value.reveal() == "pw-1"
    assert value.version == "1"


def test_each_store_adds_a_version(
    sessions: Sessions, local_wrapper: LocalKeyWrapper, clock: ManualClock
) -> None:
    _store(sessions, local_wrapper, clock, "pw-1")
    _store(sessions, local_wrapper, clock, "pw-2")
    assert _read(sessions, local_wrapper).reveal() == "pw-2"
    assert _read(sessions, local_wrapper, version=1).reveal() == "pw-1"


def test_the_row_holds_no_plaintext_and_records_the_wrapping_key(
    sessions: Sessions, local_wrapper: LocalKeyWrapper, clock: ManualClock
) -> None:
    row = _store(sessions, local_wrapper, clock, "pw-plain")
    assert b"pw-plain" not in row.ciphertext + row.wrapped_key
    assert (row.wrapper_kind, row.wrapper_key_id) == ("local", local_wrapper.key_id)
    assert row.created_at == row.updated_at == clock()
    assert "pw-plain" not in repr(row)


def test_store_does_not_commit(
    sessions: Sessions, local_wrapper: LocalKeyWrapper, clock: ManualClock
) -> None:
    with sessions() as session:
        store_secret(
            session,
            local_wrapper,
            tenant_id="t",
            purpose="webhook_secret",
            name="hook",
            value=SecretValue("x"),
            clock=clock,
        )
        session.rollback()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(StoredSecret)) == 0


def test_missing_secret_is_not_found(sessions: Sessions, local_wrapper: LocalKeyWrapper) -> None:
    with pytest.raises(NotFound):
        _read(sessions, local_wrapper)


def test_other_tenants_secret_is_not_found(
    sessions: Sessions, local_wrapper: LocalKeyWrapper, clock: ManualClock
) -> None:
    _store(sessions, local_wrapper, clock, "pw", tenant="tenant-a")
    with pytest.raises(NotFound):
        _read(sessions, local_wrapper, tenant="tenant-b")


def test_invalid_purpose_is_refused(
    sessions: Sessions, local_wrapper: LocalKeyWrapper, clock: ManualClock
) -> None:
    with sessions() as session, pytest.raises(InvalidInput, match="purpose"):
        store_secret(
            session,
            local_wrapper,
            tenant_id="t",
            purpose="Bad Purpose",
            name="n",
            value=SecretValue("x"),
            clock=clock,
        )


def test_envelopes_swapped_between_rows_do_not_open(
    sessions: Sessions, local_wrapper: LocalKeyWrapper, clock: ManualClock
) -> None:
    mine = _store(sessions, local_wrapper, clock, "mine", tenant="tenant-a")
    theirs = _store(sessions, local_wrapper, clock, "theirs", tenant="tenant-b")
    columns = ("wrapped_key", "nonce", "ciphertext", "wrapper_key_id")
    with sessions.begin() as session:
        # An attacker with write access copies tenant-b's envelope into tenant-a's row.
        session.execute(
            update(StoredSecret)
            .where(StoredSecret.id == mine.id)
            .values({c: getattr(theirs, c) for c in columns})
        )
    with pytest.raises(InvalidInput) as raised:
        _read(sessions, local_wrapper, tenant="tenant-a")
    assert raised.value.code == "envelope_tampered"


def _rows_per_key(sessions: Sessions) -> dict[str, int]:
    with sessions() as session:
        return {key_id: n for (_, key_id), n in wrapper_key_usage(session).items()}


def test_rewrap_all_moves_every_row_in_batches_and_keeps_values(
    sessions: Sessions, local_wrapper: LocalKeyWrapper, clock: ManualClock
) -> None:
    for i in range(7):
        _store(sessions, local_wrapper, clock, f"pw-{i}", name=f"relay-{i}")
    old_id = local_wrapper.key_id
    new_id = local_wrapper.rotate()
    report = rewrap_all(sessions, local_wrapper, clock=clock, batch_size=3)
    assert (report.key_id, report.rewrapped, report.batches) == (new_id, 7, 3)
    assert _rows_per_key(sessions) == {new_id: 7}
    assert old_id != new_id
    with sessions() as session:
        value = read_secret(
            session, local_wrapper, tenant_id="tenant-a", purpose="smtp_credentials", name="relay-4"
        )
    assert value.reveal() == "pw-4"


def test_rewrap_all_does_not_touch_ciphertexts(
    sessions: Sessions, local_wrapper: LocalKeyWrapper, clock: ManualClock
) -> None:
    before = _store(sessions, local_wrapper, clock, "pw")
    local_wrapper.rotate()
    rewrap_all(sessions, local_wrapper, clock=clock)
    with sessions() as session:
        after = session.get(StoredSecret, before.id)
    assert after is not None
    assert (after.nonce, after.ciphertext) == (before.nonce, before.ciphertext)
    assert after.wrapped_key != before.wrapped_key


def test_rewrap_all_is_idempotent(
    sessions: Sessions, local_wrapper: LocalKeyWrapper, clock: ManualClock
) -> None:
    _store(sessions, local_wrapper, clock, "pw")
    local_wrapper.rotate()
    assert rewrap_all(sessions, local_wrapper, clock=clock).rewrapped == 1
    assert rewrap_all(sessions, local_wrapper, clock=clock).rewrapped == 0


def test_rewrap_all_counts_rows_of_another_wrapper_kind_and_leaves_them(
    sessions: Sessions, local_wrapper: LocalKeyWrapper, clock: ManualClock
) -> None:
    row = _store(sessions, local_wrapper, clock, "pw")
    with sessions.begin() as session:
        session.execute(
            update(StoredSecret).where(StoredSecret.id == row.id).values(wrapper_kind="aws-kms")
        )
    local_wrapper.rotate()
    report = rewrap_all(sessions, local_wrapper, clock=clock)
    assert (report.rewrapped, report.other_wrapper) == (0, 1)


class _RacingWrapper(LocalKeyWrapper):
    """Rewraps, but another rewrap finishes first while this one is talking to its backend."""

    racer: Sessions

    def rewrap(self, items: Sequence[WrappedKey]) -> list[WrappedKey]:
        fresh = super().rewrap(items)
        with self.racer.begin() as session:
            session.execute(update(StoredSecret).values(wrapper_key_id=fresh[0].key_id))
        return fresh


def test_rewrap_all_skips_rows_changed_while_it_worked(
    sessions: Sessions, local_wrapper: LocalKeyWrapper, clock: ManualClock
) -> None:
    _store(sessions, local_wrapper, clock, "pw")
    local_wrapper.rotate()
    racing = _RacingWrapper(local_wrapper.path)
    racing.racer = sessions
    assert rewrap_all(sessions, racing, clock=clock).rewrapped == 0


def test_rewrap_all_refuses_a_zero_batch(
    sessions: Sessions, local_wrapper: LocalKeyWrapper, clock: ManualClock
) -> None:
    with pytest.raises(InvalidInput):
        rewrap_all(sessions, local_wrapper, clock=clock, batch_size=0)


def test_rewrap_of_ten_thousand_secrets(
    sessions: Sessions, local_wrapper: LocalKeyWrapper, clock: ManualClock
) -> None:
    with sessions.begin() as session:
        stored_secrets(session, local_wrapper, 10_000, clock, tenants=50)
    new_id = local_wrapper.rotate()
    started = time.perf_counter()
    report = rewrap_all(sessions, local_wrapper, clock=clock, batch_size=1000)
    elapsed = time.perf_counter() - started
    assert (report.rewrapped, report.batches) == (10_000, 10)
    assert _rows_per_key(sessions) == {new_id: 10_000}
    assert elapsed < 30, f"rewrap of 10,000 took {elapsed:.1f}s"
    with sessions() as session:
        value = read_secret(
            session,
            local_wrapper,
            tenant_id="tenant-49",
            purpose="webhook_secret",
            name="hook-9999",
        )
    assert value.reveal() == "whsec-9999"
