"""usage history: key_last_used_at, geo, asn, ip_hex; hourly rollups and their progress

Revision ID: 0800
Revises: 0720

Events gain the key's previous use, the client's country and autonomous system (when an IP
database is configured) and `ip_hex`, the address as 32 hex digits of its IPv6 form so that a
CIDR filter is a string range on SQLite and PostgreSQL alike; rows written before get their
`ip_hex` here, in batches. An index on `ts` serves the rollup and the purge, which walk time.
`usage_rollups` holds one key's hour; `usage_rollup_state` how far the rollup has gone
(docs/usage.md).
"""

from __future__ import annotations

import ipaddress

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import keyguard.storage.base

revision = "0800"
down_revision = "0720"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
_BACKFILL_BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("usage_events") as batch:
        batch.add_column(
            sa.Column(
                "key_last_used_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch.add_column(sa.Column("geo", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("asn", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("ip_hex", sa.String(length=32), nullable=True))
        batch.create_index("ix_usage_events_ts", ["ts"], unique=False)
    _backfill_ip_hex()
    op.create_table(
        "usage_rollups",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("hour", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column("env", sa.String(length=8), nullable=True),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("outcomes", _JSON, nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("networks", _JSON, nullable=False),
        sa.Column("network_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "hour", name=op.f("pk_usage_rollups")),
    )
    with op.batch_alter_table("usage_rollups") as batch:
        batch.create_index("ix_usage_rollups_hour", ["hour"], unique=False)
    op.create_table(
        "usage_rollup_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("rolled_until", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_usage_rollup_state")),
    )


def downgrade() -> None:
    op.drop_table("usage_rollup_state")
    with op.batch_alter_table("usage_rollups") as batch:
        batch.drop_index("ix_usage_rollups_hour")
    op.drop_table("usage_rollups")
    with op.batch_alter_table("usage_events") as batch:
        batch.drop_index("ix_usage_events_ts")
        batch.drop_column("ip_hex")
        batch.drop_column("asn")
        batch.drop_column("geo")
        batch.drop_column("key_last_used_at")


def _backfill_ip_hex() -> None:
    """`ip_hex` of the rows written before this revision (the same rule as records.ip_hex,
    copied: a migration must not change when the code does)."""
    connection = op.get_bind()
    events = sa.table(
        "usage_events", sa.column("id", sa.Integer), sa.column("ip"), sa.column("ip_hex")
    )
    last = -1
    while True:
        rows = connection.execute(
            sa.select(events.c.id, events.c.ip)
            .where(events.c.id > last, events.c.ip.is_not(None), events.c.ip_hex.is_(None))
            .order_by(events.c.id)
            .limit(_BACKFILL_BATCH)
        ).all()
        if not rows:
            return
        last = rows[-1].id
        values = [{"row_id": r.id, "value": _hex(r.ip)} for r in rows]
        values = [v for v in values if v["value"] is not None]
        if values:
            connection.execute(
                events.update()
                .where(events.c.id == sa.bindparam("row_id"))
                .values(ip_hex=sa.bindparam("value")),
                values,
            )


def _hex(ip: str) -> str | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv4Address):
        address = ipaddress.IPv6Address(f"::ffff:{address}")
    return f"{int(address):032x}"
