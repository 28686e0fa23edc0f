"""Day partitions of `usage_events` on PostgreSQL: made ahead, dropped whole by retention, and
a no-op on SQLite."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, func, select, text

from keyguard.clock import ManualClock
from keyguard.runtime import Runtime
from keyguard.storage import migrate
from keyguard.usage import UsageEvent, UsageRetention, UsageRollup
from keyguard.usage.partitions import UsagePartitions, day_start, partition_name
from tests.conftest import START, create_key
from tests.unit.usage.factories import event, write

DAY = timedelta(days=1)
postgres_only = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def _events_per_partition(runtime: Runtime) -> dict[str, int]:
    with runtime.sessions() as session:
        rows = session.execute(
            text("SELECT tableoid::regclass::text, count(*) FROM usage_events GROUP BY 1")
        )
        return {name.rsplit(".", 1)[-1]: int(count) for name, count in rows}


def _count(runtime: Runtime, model: type[UsageEvent] | type[UsageRollup]) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@postgres_only
def test_the_coming_days_get_partitions_and_their_rows_go_there(runtime: Runtime) -> None:
    partitions = UsagePartitions(runtime.sessions)
    assert partitions.partitioned()
    assert partitions.prepare(START) == 4  # today and three days ahead
    assert partitions.days() == [day_start(START) + n * DAY for n in range(4)]
    assert partitions.prepare(START) == 0  # made once
    key = create_key(runtime)
    write(runtime, [event(START, key), event(START + DAY, key), event(START - 9 * DAY, key)])
    assert _events_per_partition(runtime) == {
        partition_name(day_start(START)): 1,
        partition_name(day_start(START + DAY)): 1,
        "usage_events_default": 1,  # no day covers it: nothing is ever refused
    }


@postgres_only
def test_a_day_whose_rows_are_already_in_the_default_partition_is_not_made(
    runtime: Runtime,
) -> None:
    write(runtime, [event(START, create_key(runtime))])  # before any day partition exists
    partitions = UsagePartitions(runtime.sessions)
    assert partitions.prepare(START, ahead=1) == 1
    assert partitions.days() == [day_start(START) + DAY]
    assert _events_per_partition(runtime) == {"usage_events_default": 1}


@postgres_only
def test_retention_drops_whole_days_past_it_after_rolling_them_up(
    runtime: Runtime, clock: ManualClock
) -> None:
    partitions = UsagePartitions(runtime.sessions)
    partitions.prepare(START - 5 * DAY, ahead=5)
    key = create_key(runtime)
    write(runtime, [event(START - n * DAY, key) for n in (5, 4, 1)])
    retention = UsageRetention(runtime.sessions, clock, raw_retention=2 * DAY)
    report = retention.run()
    # Days -5, -4 and -3 end before the cut (two days ago); day -2 does not, so it stays.
    assert report.partitions_dropped == 3
    assert partition_name(day_start(START - 5 * DAY)) not in _events_per_partition(runtime)
    assert day_start(START - 2 * DAY) in partitions.days()
    assert _count(runtime, UsageEvent) == 1  # the event of yesterday
    assert _count(runtime, UsageRollup) == 3  # every hour was rolled up before it went


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_has_no_partitions_and_retention_runs_as_before(
    runtime: Runtime, clock: ManualClock
) -> None:
    partitions = UsagePartitions(runtime.sessions)
    assert not partitions.partitioned()
    write(runtime, [event(START - 5 * DAY, create_key(runtime))])
    report = UsageRetention(runtime.sessions, clock, raw_retention=2 * DAY).run()
    assert (report.events_purged, report.partitions_dropped) == (1, 0)


@postgres_only
def test_downgrade_gives_back_a_plain_table_with_every_row(
    runtime: Runtime, database_url: str
) -> None:
    UsagePartitions(runtime.sessions).prepare(START)
    key = create_key(runtime)
    write(runtime, [event(START, key), event(START - 9 * DAY, key)])
    engine: Engine = create_engine(database_url)
    try:
        _downgrade(engine, "0900")
        with engine.connect() as connection:
            kind = connection.scalar(
                text("SELECT relkind FROM pg_class WHERE oid = to_regclass('usage_events')")
            )
            count = connection.scalar(text("SELECT count(*) FROM usage_events"))
        assert (kind, count) == ("r", 2)
        migrate.upgrade(engine)
        with engine.connect() as connection:
            count = connection.scalar(text("SELECT count(*) FROM usage_events_default"))
        assert count == 2
    finally:
        engine.dispose()


def _downgrade(engine: Engine, revision: str) -> None:
    config = migrate._config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
