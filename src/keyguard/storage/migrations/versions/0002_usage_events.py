"""usage events

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import keyguard.storage.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("ts", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=True),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column("env", sa.String(length=8), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=True),
        sa.Column(
            "recipient_domains",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("sender", sa.String(length=320), nullable=True),
        sa.Column(
            "extra",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_events")),
    )
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.create_index("ix_usage_events_key_ts", ["key_id", "ts"], unique=False)
        batch_op.create_index("ix_usage_events_tenant_ts", ["tenant_id", "ts"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_events_tenant_ts")
        batch_op.drop_index("ix_usage_events_key_ts")

    op.drop_table("usage_events")
