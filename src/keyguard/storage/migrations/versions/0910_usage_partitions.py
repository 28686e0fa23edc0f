"""usage events partitioned by day on PostgreSQL (a no-op on SQLite)

Revision ID: 0910
Revises: 0900

On PostgreSQL `usage_events` becomes a table partitioned by range of `ts`: one partition a
UTC day (`usage_events_pYYYYMMDD`, created ahead by the usage maintenance,
keyguard.usage.partitions) and a default partition that takes whatever no day partition
covers (the rows already there, which move into it here). Retention then drops whole days
instead of deleting their rows. The primary key becomes (id, ts): a partitioned table's
unique constraints must hold its partition key; `id` keeps its sequence. SQLite's table is
left as it is.
"""

from __future__ import annotations

from alembic import op

revision = "0910"
down_revision = "0900"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_usage_events_key_ts": "key_id, ts",
    "ix_usage_events_tenant_ts": "tenant_id, ts",
    "ix_usage_events_ts": "ts",
}


def _postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _rename_old(suffix: str, pk_old: str) -> None:
    op.execute(f"ALTER TABLE usage_events RENAME TO usage_events_{suffix}")
    op.execute(f"ALTER TABLE usage_events_{suffix} RENAME CONSTRAINT {pk_old} TO pk_ue_{suffix}")
    for name in _INDEXES:
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_{suffix}")


def _indexes() -> None:
    for name, columns in _INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON usage_events ({columns})")


def _move_rows_and_sequence(suffix: str) -> None:
    # The suffix is one of two constants of this module, never input.
    op.execute(f"INSERT INTO usage_events SELECT * FROM usage_events_{suffix}")  # noqa: S608
    # The id sequence belongs to the old table's column: hand it over before the old goes.
    op.execute(
        "DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s OWNED BY usage_events.id', "
        f"pg_get_serial_sequence('usage_events_{suffix}', 'id')); END $$"
    )
    op.execute(f"DROP TABLE usage_events_{suffix}")


def upgrade() -> None:
    if not _postgres():
        return
    _rename_old("unpartitioned", "pk_usage_events")
    op.execute(
        "CREATE TABLE usage_events (LIKE usage_events_unpartitioned INCLUDING DEFAULTS "
        "INCLUDING CONSTRAINTS) PARTITION BY RANGE (ts)"
    )
    op.execute("ALTER TABLE usage_events ADD CONSTRAINT pk_usage_events PRIMARY KEY (id, ts)")
    _indexes()
    op.execute("CREATE TABLE usage_events_default PARTITION OF usage_events DEFAULT")
    _move_rows_and_sequence("unpartitioned")


def downgrade() -> None:
    if not _postgres():
        return
    _rename_old("partitioned", "pk_usage_events")
    op.execute(
        "CREATE TABLE usage_events (LIKE usage_events_partitioned INCLUDING DEFAULTS "
        "INCLUDING CONSTRAINTS)"
    )
    op.execute("ALTER TABLE usage_events ADD CONSTRAINT pk_usage_events PRIMARY KEY (id)")
    _indexes()
    _move_rows_and_sequence("partitioned")  # dropping the parent drops every partition
