"""Revision 0900 on both backends: the dashboard's tables as the models declare them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect

from keyguard.storage import migrate
from keyguard.tables import target_metadata

TABLES = {"users", "user_memberships", "webauthn_credentials", "recovery_codes", "web_sessions"}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def test_the_migrated_tables_match_the_models(engine: Engine) -> None:
    migrate.upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), target_metadata)
    assert [d for d in differences if _table_of(d) in TABLES] == []


def _table_of(difference: object) -> str | None:
    entry = difference[0] if isinstance(difference, list) else difference
    assert isinstance(entry, tuple)
    kind, subject = entry[0], entry[1]
    if kind.endswith("_table"):
        return str(subject.name)
    if kind.endswith(("_index", "_constraint", "_fk")):
        return str(subject.table.name)
    return str(entry[2])


def test_the_revision_downgrades_and_upgrades_again(engine: Engine) -> None:
    migrate.upgrade(engine)
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0840")
    assert not TABLES & set(inspect(engine).get_table_names())
    migrate.upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
