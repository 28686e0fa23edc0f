"""online detection: alerts, the detector's cursor and lease, response policies, throttles

Revision ID: 0840
Revises: 0830

`alerts` holds what the online detector raised and what was done; `detector_cursor` the last
usage event it processed (committed with the alerts) and the lease that keeps one detector
running among several nodes; `response_policies` each tenant's severity → action map;
`rate_overrides` a key's lower request rate until a time (a throttle). docs/monitoring.md.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import keyguard.storage.base

revision = "0840"
down_revision = "0830"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
_TIME = keyguard.storage.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column("env", sa.String(length=8), nullable=True),
        sa.Column("key_id", sa.String(length=40), nullable=True),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("action_state", sa.String(length=16), nullable=False),
        sa.Column("planned_action", sa.String(length=16), nullable=True),
        sa.Column("ts", _TIME(timezone=True), nullable=False),
        sa.Column("first_event_ts", _TIME(timezone=True), nullable=False),
        sa.Column("evidence", _JSON, nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _TIME(timezone=True), nullable=False),
        sa.Column("updated_at", _TIME(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=True),
        sa.Column("learned", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts") as batch:
        batch.create_index("ix_alerts_tenant_env_id", ["tenant_id", "env", "id"], unique=False)
        batch.create_index("ix_alerts_key_rule", ["key_id", "rule"], unique=False)
        batch.create_index("ix_alerts_action_state", ["action_state"], unique=False)
    op.create_table(
        "detector_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("last_event_ts", _TIME(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", _TIME(timezone=True), nullable=True),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("skipped_ids", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_detector_cursor")),
    )
    op.create_table(
        "response_policies",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("by_severity", _JSON, nullable=False),
        sa.Column("by_rule", _JSON, nullable=False),
        sa.Column("throttle_per_minute", sa.Integer(), nullable=False),
        sa.Column("throttle_seconds", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TIME(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_response_policies")),
    )
    op.create_table(
        "rate_overrides",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("per_minute", sa.Integer(), nullable=False),
        sa.Column("until", _TIME(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", _TIME(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_rate_overrides")),
    )


def downgrade() -> None:
    op.drop_table("rate_overrides")
    op.drop_table("response_policies")
    op.drop_table("detector_cursor")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index("ix_alerts_action_state")
        batch.drop_index("ix_alerts_key_rule")
        batch.drop_index("ix_alerts_tenant_env_id")
    op.drop_table("alerts")
