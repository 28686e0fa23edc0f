"""Database engine, ORM base and Alembic migrations (SQLite and PostgreSQL)."""

from keyguard.storage import migrate  # a namespace: migrate.upgrade(engine)
from keyguard.storage.base import AutoBigInt, Base, PortableJSON, UTCDateTime
from keyguard.storage.engine import READ_ONLY, make_engine, make_session_factory
from keyguard.storage.group_commit import (
    GroupCommit,
    OwnTransaction,
    Transactions,
    transactions_for,
)
from keyguard.storage.inserts import RowsInsert, rows_insert, together

__all__ = [
    "READ_ONLY",
    "AutoBigInt",
    "Base",
    "GroupCommit",
    "OwnTransaction",
    "PortableJSON",
    "RowsInsert",
    "Transactions",
    "UTCDateTime",
    "make_engine",
    "make_session_factory",
    "migrate",
    "rows_insert",
    "together",
    "transactions_for",
]
