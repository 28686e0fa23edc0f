"""RowsInsert: compiled multi-row INSERTs that fail the way SQLAlchemy's own would."""

from __future__ import annotations

from typing import cast

import pytest
from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError

from keyguard.mail.models import QuotaUsage
from keyguard.runtime import Runtime
from keyguard.storage import RowsInsert, rows_insert, together

QUOTAS = cast(Table, QuotaUsage.__table__)
COLUMNS = ("key_id", "day", "used")


def test_rows_are_inserted_in_chunks_and_read_back(runtime: Runtime) -> None:
    rows = [(f"key_{n:03}", "2026-12-04", n) for n in range(250)]  # three statements on SQLite
    with runtime.sessions.begin() as session:
        connection = session.connection()
        rows_insert(QUOTAS, COLUMNS, connection.dialect).execute(connection, rows)
    with runtime.sessions() as session:
        stored = session.execute(select(*QUOTAS.c).order_by(QUOTAS.c.key_id)).all()
    assert [tuple(row) for row in stored] == rows


def insert_twice(runtime: Runtime, *, together_: bool) -> None:
    """The same row twice in one transaction: as one call, or as two inside `together`."""
    row = ("key_1", "2026-12-04", 1)
    with runtime.sessions.begin() as session:
        connection = session.connection()
        statement = rows_insert(QUOTAS, COLUMNS, connection.dialect)
        if not together_:
            statement.execute(connection, [row, row])
            return
        with together(connection):  # psycopg: pipelined, the error comes at the sync
            statement.execute(connection, [row])
            statement.execute(connection, [row])


def test_a_duplicate_key_raises_sqlalchemys_integrity_error(runtime: Runtime) -> None:
    with pytest.raises(IntegrityError):
        insert_twice(runtime, together_=False)
    with runtime.sessions() as session:  # rolled back as a whole; the session is usable
        assert session.execute(select(*QUOTAS.c)).all() == []


def test_columns_out_of_the_tables_order_are_refused(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match="order"):
        RowsInsert(QUOTAS, ("day", "key_id", "used"), runtime.engine.dialect)


def test_an_error_inside_together_surfaces_as_sqlalchemys_at_the_latest_on_leaving(
    runtime: Runtime,
) -> None:
    with pytest.raises(IntegrityError):
        insert_twice(runtime, together_=True)
    with runtime.sessions() as session:
        assert session.execute(select(*QUOTAS.c)).all() == []
