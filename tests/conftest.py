"""Shared fixtures: a real database per test (SQLite and PostgreSQL), a manual clock, factories."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from keyguard.clock import ManualClock
from keyguard.lifecycle.service import KeySpec
from keyguard.lifecycle.tenants import DEFAULT_TENANT, ensure_tenant
from keyguard.lifecycle.views import OPERATOR, CreatedKey
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from keyguard.storage import migrate
from keyguard.verification.cache import SnapshotCache
from tests.services import POSTGRES, service_url


def _start() -> datetime:
    """Where every test's clock starts: the latest 10:00 UTC at or before the real time.

    The date is the real one, because keys made on this clock are handed to other processes
    (`keyguard serve`, `keyguard smtp`) that run on the real clock: a fixed date would make
    the suite pass only until the real date overtook it. The time of day is fixed, so that a
    test that advances the clock by a few hours never depends on when the suite runs.
    """
    now = datetime.now(UTC)
    today = now.replace(hour=10, minute=0, second=0, microsecond=0)
    return today if today <= now else today - timedelta(days=1)


START = _start()
TEST_PEPPER = "test-pepper-" + "0123456789abcdef" * 3


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a private PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'keyguard.db'}"
        return
    yield from _postgres_schema(service_url(POSTGRES))


def _postgres_schema(base_url: str) -> Iterator[str]:
    schema = "t_" + secrets.token_hex(6)
    admin = create_engine(base_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        _drop_schema(admin, schema)
        admin.dispose()


def _drop_schema(admin: Engine, schema: str, attempts: int = 5) -> None:
    """DROP SCHEMA, again when PostgreSQL picks it as a deadlock's victim: a straggling
    background query of the test (a detector round finishing as its server stops) can hold a
    table of the schema while the drop holds another; the straggler then finishes."""
    for attempt in range(attempts):
        try:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            return
        except OperationalError as exc:
            if "deadlock" not in str(exc.orig) or attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))  # teardown, not a timed assertion


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def cache(clock: ManualClock, ttl: float = 30.0) -> SnapshotCache:
    """A verification cache whose TTL runs on the test's clock, not on the machine's."""
    return SnapshotCache(ttl, monotonic=clock.monotonic)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, pepper=TEST_PEPPER)


@pytest.fixture
def runtime(settings: Settings, clock: ManualClock) -> Iterator[Runtime]:
    rt = Runtime.build(settings, clock, monotonic=clock.monotonic)
    migrate.upgrade(rt.engine)
    with rt.sessions.begin() as session:
        ensure_tenant(session, clock, DEFAULT_TENANT, OPERATOR.id)
        ensure_tenant(session, clock, "other", OPERATOR.id)
    yield rt
    rt.close()


def create_key(runtime: Runtime, **overrides: object) -> CreatedKey:
    """Factory: a key with sensible defaults, created by the operator."""
    values: dict[str, object] = {
        "tenant_id": DEFAULT_TENANT,
        "env": "live",
        "scopes": ["mail:send"],
    }
    values.update(overrides)
    return runtime.keys.create(OPERATOR, KeySpec(**values))  # type: ignore[arg-type]
