"""The audit chain detects edits, deletions, insertions, reordering and truncation."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

from sqlalchemy import delete, select, update

from keyguard import audit
from keyguard.audit.models import AuditEvent, AuditHead
from keyguard.clock import ManualClock
from keyguard.runtime import Runtime


def _append(runtime: Runtime, clock: ManualClock, count: int) -> None:
    for i in range(count):
        clock.advance(timedelta(seconds=1))
        with runtime.sessions.begin() as session:
            audit.append(
                session, now=clock(), actor="operator:cli", action="test.event", data={"i": i}
            )


def _verify(runtime: Runtime) -> audit.ChainReport:
    with runtime.sessions() as session:
        return audit.verify_chain(session)


def test_untouched_chain_is_intact(runtime: Runtime, clock: ManualClock) -> None:
    _append(runtime, clock, 5)
    report = _verify(runtime)
    assert report.intact
    assert report.records == 7  # two tenant.created events from the fixture, plus five


def test_edited_record_is_named(runtime: Runtime, clock: ManualClock) -> None:
    _append(runtime, clock, 5)
    with runtime.sessions.begin() as session:
        session.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(actor="someone-else"))
    report = _verify(runtime)
    assert not report.intact
    assert report.first_bad_seq == 4
    assert "edited" in (report.problem or "")


def test_deleted_record_is_detected_at_the_gap(runtime: Runtime, clock: ManualClock) -> None:
    _append(runtime, clock, 5)
    with runtime.sessions.begin() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.seq == 3))
    report = _verify(runtime)
    assert (report.intact, report.first_bad_seq) == (False, 4)


def test_inserted_record_is_detected(runtime: Runtime, clock: ManualClock) -> None:
    _append(runtime, clock, 3)
    with runtime.sessions.begin() as session:
        session.execute(
            update(AuditEvent).where(AuditEvent.seq >= 3).values(seq=AuditEvent.seq + 100)
        )
        forged = AuditEvent(
            seq=3, ts=clock(), actor="attacker", action="key.created", data={},
            prev_hash="0" * 64, hash="0" * 64,
        )  # fmt: skip
        session.add(forged)
    report = _verify(runtime)
    assert (report.intact, report.first_bad_seq) == (False, 3)


def test_reordered_records_are_detected(runtime: Runtime, clock: ManualClock) -> None:
    _append(runtime, clock, 4)
    with runtime.sessions.begin() as session:
        session.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(seq=-4))
        session.execute(update(AuditEvent).where(AuditEvent.seq == 5).values(seq=4))
        session.execute(update(AuditEvent).where(AuditEvent.seq == -4).values(seq=5))
    report = _verify(runtime)
    assert (report.intact, report.first_bad_seq) == (False, 4)


def test_truncated_tail_is_detected(runtime: Runtime, clock: ManualClock) -> None:
    _append(runtime, clock, 4)
    with runtime.sessions.begin() as session:
        last = session.scalar(select(AuditHead.seq))
        session.execute(delete(AuditEvent).where(AuditEvent.seq == last))
    report = _verify(runtime)
    assert not report.intact
    assert "missing" in (report.problem or "")


def test_export_yields_every_record_in_order(runtime: Runtime, clock: ManualClock) -> None:
    _append(runtime, clock, 3)
    with runtime.sessions() as session:
        records = list(audit.export(session))
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert all(b["prev_hash"] == a["hash"] for a, b in pairwise(records))
