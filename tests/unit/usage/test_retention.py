"""Retention: hourly rollups first, then the purge of raw events and old rollups; idempotent,
batched, never losing an hour the time series still shows."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import delete, func, select

from keyguard.clock import ManualClock
from keyguard.runtime import Runtime, housekeeping
from keyguard.settings import Settings
from keyguard.usage import (
    RetentionReport,
    UsageEvent,
    UsageHistory,
    UsageRetention,
    UsageRollup,
    UsageRollupState,
)
from keyguard.usage.retention import rolled_until
from keyguard.verification import Owner
from tests.conftest import START, create_key
from tests.unit.usage.factories import event, write

H = timedelta(hours=1)
DAY = timedelta(days=1)
LIVE = Owner("default", "live")


@pytest.fixture
def retention(runtime: Runtime, clock: ManualClock) -> UsageRetention:
    return UsageRetention(
        runtime.sessions, clock, raw_retention=10 * DAY, rollup_retention=30 * DAY, batch=2
    )


def _count(runtime: Runtime, model: type[UsageEvent] | type[UsageRollup]) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _rollups(runtime: Runtime) -> list[tuple[object, ...]]:
    with runtime.sessions() as session:
        rows = session.scalars(select(UsageRollup).order_by(UsageRollup.hour, UsageRollup.key_id))
        return [
            (r.key_id, r.hour, r.requests, r.outcomes, r.recipients, r.networks, r.network_count)
            for r in rows
        ]


def test_complete_hours_become_one_row_per_key_and_hour(
    runtime: Runtime, retention: UsageRetention
) -> None:
    key, other = create_key(runtime), create_key(runtime)
    write(
        runtime,
        [
            event(START - 3 * H, key, recipients=4),
            event(START - 3 * H + timedelta(minutes=30), key, outcome="denied_ip",
                  ip="198.51.100.9"),
            event(START - 3 * H, other),
            event(START - 3 * H, None, outcome="invalid_key"),  # no key: nothing to roll up
            event(START - timedelta(minutes=5), key),  # this hour is not complete yet
        ],
    )  # fmt: skip
    assert retention.roll_up() == 1
    assert sorted(_rollups(runtime), key=lambda r: r[0] != key.view.id) == [
        (key.view.id, START - 3 * H, 2, {"ok": 1, "denied_ip": 1}, 4,
         ["198.51.100.0/24", "203.0.113.0/24"], 2),
        (other.view.id, START - 3 * H, 1, {"ok": 1}, 0, ["203.0.113.0/24"], 1),
    ]  # fmt: skip
    with runtime.sessions() as session:
        assert rolled_until(session) == START - H  # the last hour ends 10 minutes from now


def test_rolling_up_again_changes_nothing(
    runtime: Runtime, retention: UsageRetention, clock: ManualClock
) -> None:
    key = create_key(runtime)
    write(runtime, [event(START - 5 * H, key), event(START - 2 * H, key)])
    retention.roll_up()
    before = _rollups(runtime)
    assert retention.roll_up() == 0
    with runtime.sessions.begin() as session:  # as if the mark had been lost
        session.execute(delete(UsageRollupState))
    assert retention.roll_up() == 2
    assert _rollups(runtime) == before


def test_a_backlog_is_rolled_up_a_bounded_number_of_hours_per_run(
    runtime: Runtime, clock: ManualClock
) -> None:
    key = create_key(runtime)
    write(runtime, [event(START - i * H, key) for i in range(2, 8)])
    limited = UsageRetention(runtime.sessions, clock, max_hours=4)
    assert limited.roll_up() == 4
    assert limited.roll_up() == 2
    assert limited.roll_up() == 0


def test_events_past_the_retention_are_purged_in_batches_after_their_rollup(
    runtime: Runtime, retention: UsageRetention, clock: ManualClock
) -> None:
    key = create_key(runtime)
    old = [event(START - 12 * DAY + i * timedelta(minutes=1), key) for i in range(5)]
    write(runtime, [*old, event(START - 2 * DAY, key)])
    report = retention.run()
    assert (report.hours_rolled, report.events_purged) == (2, 5)  # in batches of 2: 2 + 2 + 1
    assert _count(runtime, UsageEvent) == 1
    assert retention.run().events_purged == 0  # idempotent


def test_the_purge_never_passes_the_rollup(runtime: Runtime, clock: ManualClock) -> None:
    key = create_key(runtime)
    write(runtime, [event(START - 20 * DAY, key), event(START - 15 * DAY, key)])
    one_hour_a_run = UsageRetention(
        runtime.sessions, clock, raw_retention=10 * DAY, rollup_retention=30 * DAY, max_hours=1
    )
    first = one_hour_a_run.run()
    assert (first.hours_rolled, first.events_purged) == (1, 1)  # only the rolled-up hour
    second = one_hour_a_run.run()
    assert (second.hours_rolled, second.events_purged) == (1, 1)


def test_rollups_past_their_own_retention_are_purged(
    runtime: Runtime, retention: UsageRetention, clock: ManualClock
) -> None:
    key = create_key(runtime)
    write(runtime, [event(START - 40 * DAY + i * DAY, key) for i in range(15)])  # 40 … 26 days
    report = retention.run()
    assert report.hours_rolled == 15
    assert report.rollups_purged == 10  # 40 … 31 days old; 30 days old is kept
    assert _count(runtime, UsageRollup) == 5


def test_nothing_to_do_on_an_empty_database(retention: UsageRetention) -> None:
    report = retention.run()
    assert (report.hours_rolled, report.events_purged, report.rollups_purged) == (0, 0, 0)


def test_the_series_reads_rollups_where_raw_events_are_gone(
    runtime: Runtime, clock: ManualClock
) -> None:
    key = create_key(runtime)
    write(
        runtime,
        [
            event(START - 20 * DAY, key, recipients=3),
            event(START - 20 * DAY + timedelta(minutes=10), key, ip="198.51.100.1"),
            event(START - 2 * DAY, key),
        ],
    )
    history = UsageHistory(runtime.sessions, clock, raw_retention=10 * DAY)
    before = history.series(key.view.id, owner=LIVE, start=START - 30 * DAY, end=START)
    assert before.totals.requests == 3
    report = UsageRetention(runtime.sessions, clock, raw_retention=10 * DAY).run()
    assert report.events_purged == 2
    after = history.series(key.view.id, owner=LIVE, start=START - 30 * DAY, end=START)
    assert [b.to_json() for b in after.buckets] == [b.to_json() for b in before.buckets]
    hourly = history.series(
        key.view.id, owner=LIVE, start=START - 20 * DAY, end=START - 20 * DAY + H, bucket="hour"
    )
    (hour,) = hourly.buckets
    assert (hour.usage.requests, hour.usage.recipients, hour.usage.distinct_networks()) == (2, 3, 2)


def test_rolled_up_hours_still_within_retention_are_not_counted_twice(
    runtime: Runtime, retention: UsageRetention, clock: ManualClock
) -> None:
    key = create_key(runtime)
    write(runtime, [event(START - 11 * DAY, key), event(START - 9 * DAY, key)])
    retention.roll_up()  # everything rolled up, nothing purged yet
    series = runtime.history.series(key.view.id, owner=LIVE, start=START - 12 * DAY, end=START)
    assert series.totals.requests == 2


class _Counting:
    """Stands in for the retention job: counts runs, tells the test when one happened."""

    def __init__(self) -> None:
        self.ran = threading.Event()

    def run(self) -> RetentionReport:
        self.ran.set()
        return RetentionReport()


def test_the_workers_housekeeping_runs_the_retention(
    runtime: Runtime, settings: Settings, clock: ManualClock
) -> None:
    worker = Runtime.build(settings.model_copy(update={"usage_maintenance_seconds": 0.01}), clock)
    job = _Counting()
    worker.retention = job  # type: ignore[assignment]  # the wiring is what is tested here

    async def main() -> bool:
        async with housekeeping(worker, maintenance=True):
            return await asyncio.to_thread(job.ran.wait, 30)

    try:
        assert asyncio.run(main())
    finally:
        worker.close()


def test_rollups_must_be_kept_at_least_as_long_as_raw_events(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="usage_rollup_retention_days"):
        Settings(data_dir=tmp_path, usage_retention_days=90, usage_rollup_retention_days=30)


def test_the_ip_databases_and_retention_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYGUARD_GEOIP_DB", str(tmp_path / "country.mmdb"))
    monkeypatch.setenv("KEYGUARD_ASN_DB", str(tmp_path / "asn.mmdb"))
    monkeypatch.setenv("KEYGUARD_USAGE_RETENTION_DAYS", "30")
    settings = Settings(data_dir=tmp_path)
    assert (settings.geoip_db, settings.asn_db) == (
        tmp_path / "country.mmdb",
        tmp_path / "asn.mmdb",
    )
    assert (settings.usage_retention_days, settings.usage_rollup_retention_days) == (30, 400)
