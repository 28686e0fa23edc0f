"""INSERTs compiled once per dialect, for rows whose values are already converted.

`insert(table)` with a list of dicts makes SQLAlchemy look the statement up in its compile
cache and run every column's bind processing for every row, on each execute: for the outbox
rows of a batch of mail that was a quarter of the acceptance's CPU. `RowsInsert` compiles the
statement once (positional parameters on every driver: `?` on sqlite3, `%s` on psycopg, with
SQLAlchemy's type casts kept), hands out each column's conversion so that callers convert a
value shared by many rows (a batch's `now`) once, and gives the rows to the driver's cursor:
on sqlite3 a chunk of rows is one multi-row statement, psycopg pipelines an executemany.
`together` sends several such INSERTs to PostgreSQL in one round trip.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any, Final

import msgspec
from sqlalchemy import JSON, Connection, Dialect, Table, insert
from sqlalchemy.exc import DBAPIError

Convert = Callable[[Any], Any]
_JSON: Final = msgspec.json.Encoder()
# 100 rows x 21 columns stays far below SQLite's 32,766 bound variables and PostgreSQL's 65,535.
ROWS_PER_STATEMENT: Final = 100


def _unchanged(value: Any) -> Any:
    return value


class RowsInsert:
    """`INSERT INTO table (columns…) VALUES (…), (…), …` for rows given as tuples in
    `columns` order, every value already converted with `convert(column)`."""

    def __init__(self, table: Table, columns: Sequence[str], dialect: Dialect) -> None:
        compiled = (
            insert(table).inline().compile(dialect=_positional(dialect), column_keys=list(columns))
        )
        if list(compiled.positiontup or ()) != list(columns):
            raise ValueError(f"columns must be given in the table's order: {compiled.positiontup}")
        self.columns = tuple(columns)
        self.dialect = dialect
        self._multi_row = bool(dialect.positional)
        self._head, _, self._row = compiled.string.partition(" VALUES ")
        self._sql: dict[int, str] = {}
        self._converts: dict[str, Convert] = {}
        for name in columns:
            impl = table.c[name].type.dialect_impl(dialect)
            process = _json_text if isinstance(impl, JSON) else impl.bind_processor(dialect)
            self._converts[name] = _null_stays_null(process) if process else _unchanged

    def convert(self, column: str) -> Convert:
        """The dialect's conversion of a Python value for `column` (None stays SQL NULL)."""
        return self._converts[column]

    def execute(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> None:
        """Insert the rows in the connection's transaction: on sqlite3 one statement per
        chunk; psycopg parses a statement's placeholders anew when it is too long for its
        cache, so there the one-row statement goes to executemany, which psycopg pipelines."""
        if not rows:
            return
        with _driver_cursor(connection) as cursor:
            if not self._multi_row:
                if len(rows) == 1:  # executemany would open and sync a pipeline for one row
                    cursor.execute(self._statement(1), tuple(rows[0]))
                else:
                    cursor.executemany(self._statement(1), list(rows))
                return
            for start in range(0, len(rows), ROWS_PER_STATEMENT):
                chunk = rows[start : start + ROWS_PER_STATEMENT]
                flat = tuple(chain.from_iterable(chunk))
                cursor.execute(self._statement(len(chunk)), flat)

    def _statement(self, count: int) -> str:
        sql = self._sql.get(count)
        if sql is None:
            sql = self._sql[count] = f"{self._head} VALUES {', '.join([self._row] * count)}"
        return sql


@functools.lru_cache(maxsize=64)  # a few tables, one dialect per engine (tests make many)
def rows_insert(table: Table, columns: tuple[str, ...], dialect: Dialect) -> RowsInsert:
    """The compiled insert of `columns` of `table` for this engine's dialect."""
    return RowsInsert(table, columns, dialect)


@contextmanager
def together(connection: Connection) -> Iterator[None]:
    """The statements of RowsInsert.execute inside go to the database in one round trip
    where the driver can (psycopg's pipeline mode; every one still checked, errors raised
    at the end of the block), one after the other elsewhere (sqlite3 has no round trips)."""
    driver = connection.connection.dbapi_connection
    if connection.dialect.driver != "psycopg" or driver is None:
        yield
        return
    with _errors_of(connection), driver.pipeline():
        yield


@contextmanager
def _driver_cursor(connection: Connection) -> Iterator[Any]:
    """A cursor of the connection's driver connection, in its transaction.

    The rows are plain, converted values: SQLAlchemy's statement execution (context, result
    set-up, events) cost as much as the driver's for a send's three small INSERTs."""
    driver = connection.connection.dbapi_connection
    assert driver is not None  # noqa: S101 - a checked-out connection always has one
    cursor = driver.cursor()
    try:
        with _errors_of(connection):
            yield cursor
    finally:
        cursor.close()


@contextmanager
def _errors_of(connection: Connection) -> Iterator[None]:
    """Driver errors as SQLAlchemy raises them (IntegrityError, OperationalError…); a lost
    connection is invalidated, as SQLAlchemy does."""
    dialect = connection.dialect
    try:
        yield
    except dialect.loaded_dbapi.Error as exc:
        driver = connection.connection.dbapi_connection
        lost = dialect.is_disconnect(exc, driver, None)
        error = DBAPIError.instance(
            None, None, exc, dialect.loaded_dbapi.Error, dialect=dialect,
            connection_invalidated=lost,
        )  # fmt: skip
        if lost:
            connection.invalidate(exc)
        raise error from exc


def _positional(dialect: Dialect) -> Dialect:
    """A dialect like `dialect` that compiles positional parameters (psycopg takes both)."""
    if dialect.positional:
        return dialect
    # Every SQLAlchemy dialect takes `paramstyle`; the Dialect interface does not say so.
    return type(dialect)(paramstyle="format")  # type: ignore[call-arg]


def _json_text(value: Any) -> str:
    """JSON columns take their text: SQLite stores it, PostgreSQL casts it (`%s::JSONB`, as
    SQLAlchemy compiles the column). msgspec encodes lists and dicts of plain values several
    times faster than the `json` module SQLAlchemy's own conversion calls."""
    return _JSON.encode(value).decode()


def _null_stays_null(convert: Convert) -> Convert:
    """None is SQL NULL for every column (a JSON column would otherwise store `null`)."""
    return lambda value: None if value is None else convert(value)
