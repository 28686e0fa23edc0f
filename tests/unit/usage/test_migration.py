"""Revision 0800 on both backends: the new columns and tables as the models declare them, and
`ip_hex` filled in for events written before it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, text

from keyguard.storage import migrate
from keyguard.tables import target_metadata
from keyguard.usage.records import ip_hex

USAGE_TABLES = {"usage_events", "usage_rollups", "usage_rollup_state"}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def test_the_migrated_usage_tables_match_the_models(engine: Engine) -> None:
    migrate.upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), target_metadata)
    ours = [d for d in differences if _table_of(d) in USAGE_TABLES]
    assert ours == []


def test_events_written_before_get_their_ip_hex(engine: Engine) -> None:
    migrate.upgrade(engine, "0720")
    with engine.begin() as connection:
        for ip in ("203.0.113.7", "2001:db8::1", None, "not-an-ip"):
            connection.execute(
                text(
                    "INSERT INTO usage_events (ts, method, path, outcome, status, ip) "
                    "VALUES (:ts, 'GET', '/v1/keys', 'ok', 200, :ip)"
                ),
                {"ts": "2026-01-01 10:00:00", "ip": ip},
            )
    migrate.upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT ip, ip_hex FROM usage_events ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [
        ("203.0.113.7", ip_hex("203.0.113.7")),
        ("2001:db8::1", ip_hex("2001:db8::1")),
        (None, None),
        ("not-an-ip", None),
    ]


def _table_of(difference: object) -> str | None:
    """The table a compare_metadata entry is about (a tuple, or a list of column changes)."""
    entry = difference[0] if isinstance(difference, list) else difference
    assert isinstance(entry, tuple)
    kind, subject = entry[0], entry[1]
    if kind.endswith("_table"):
        return str(subject.name)
    if kind.endswith(("_index", "_constraint", "_fk")):
        return str(subject.table.name)
    return str(entry[2])  # add_column, remove_column, modify_*: (kind, schema, table, …)
