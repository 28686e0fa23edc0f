"""Alembic environment: runs on the connection handed over by keyguard.storage.migrate."""

from __future__ import annotations

from alembic import context

from keyguard.tables import target_metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
