"""incidents and their timeline (incident_steps)

Revision ID: 0810
Revises: 0720
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import keyguard.storage.base

revision = "0810"
down_revision = "0800"
branch_labels = None
depends_on = None

_UTC = keyguard.storage.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("env", sa.String(length=8), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("response", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("opened_by", sa.String(length=120), nullable=False),
        sa.Column("opened_at", _UTC, nullable=False),
        sa.Column("contained_at", _UTC, nullable=True),
        sa.Column("resolved_at", _UTC, nullable=True),
        sa.Column("successor_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_incidents_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_incidents_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index("ix_incidents_key_id", ["key_id"], unique=False)
        batch_op.create_index(
            "ix_incidents_tenant_opened", ["tenant_id", "opened_at", "id"], unique=False
        )

    op.create_table(
        "incident_steps",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("incident_id", sa.String(length=40), nullable=False),
        sa.Column("ts", _UTC, nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_steps_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_steps")),
    )
    with op.batch_alter_table("incident_steps", schema=None) as batch_op:
        batch_op.create_index("ix_incident_steps_incident_id", ["incident_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident_steps", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_steps_incident_id")
    op.drop_table("incident_steps")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_tenant_opened")
        batch_op.drop_index("ix_incidents_key_id")
    op.drop_table("incidents")
