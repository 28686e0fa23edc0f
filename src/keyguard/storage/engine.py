"""Engine and session factory for the configured database; SQLite gets WAL and 0600 files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from keyguard.errors import ConfigurationError

# Execution option for connections that run one read-only statement (see _sqlite_engine).
READ_ONLY = "keyguard_read_only"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine; for SQLite make the file private and enable WAL and foreign keys."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigurationError(f"invalid database URL: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, **kwargs)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_engine(url: str, database: str | None, **kwargs: Any) -> Engine:
    if database and database != ":memory:":
        path = Path(database)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            path.touch(mode=0o600)
        os.chmod(path, 0o600)
    engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control so BEGIN IMMEDIATE can serialise writers.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A single-statement read (the verification lookup) needs no transaction at all, and
        # must not queue behind writers for the write lock.
        if conn.get_execution_options().get(READ_ONLY):
            return
        # IMMEDIATE takes the write lock up front: read-then-write transactions (the audit
        # chain) cannot interleave and fail with "database is locked" half-way.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
