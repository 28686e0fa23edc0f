"""secrets and rotation: stored secrets, key deliveries, rotation intents

Revision ID: 0600
Revises: 0002

api_keys.pepper_version stays String(32): it stores a pepper *label* (1-32 of A-Z a-z 0-9 . _ -,
checked by keyguard.secrets.pepper), never a provider's version id, so AWS's 36-character
version ids never reach it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import keyguard.storage.base

revision = "0600"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_secrets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("envelope_format", sa.Integer(), nullable=False),
        sa.Column("wrapper_kind", sa.String(length=32), nullable=False),
        sa.Column("wrapper_key_id", sa.String(length=300), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_secrets")),
        sa.UniqueConstraint(
            "tenant_id", "purpose", "name", "version", name="uq_stored_secrets_name_version"
        ),
    )
    with op.batch_alter_table("stored_secrets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stored_secrets_wrapper_key_id", ["wrapper_kind", "wrapper_key_id"], unique=False
        )

    op.create_table(
        "key_deliveries",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("rotate_every_seconds", sa.Integer(), nullable=True),
        sa.Column("grace_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_key_deliveries_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_key_deliveries")),
    )
    with op.batch_alter_table("key_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_key_deliveries_target", ["target"], unique=False)

    op.create_table(
        "rotation_intents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("old_key_id", sa.String(length=40), nullable=True),
        sa.Column("new_key_id", sa.String(length=40), nullable=False),
        sa.Column("new_digest", sa.String(length=64), nullable=False),
        sa.Column("pepper_version", sa.String(length=32), nullable=False),
        sa.Column("grace_seconds", sa.Integer(), nullable=False),
        sa.Column("rotate_every_seconds", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("lease_until", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("target_lock", sa.String(length=300), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rotation_intents")),
        sa.UniqueConstraint("target_lock", name=op.f("uq_rotation_intents_target_lock")),
    )
    with op.batch_alter_table("rotation_intents", schema=None) as batch_op:
        batch_op.create_index("ix_rotation_intents_state", ["state", "lease_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rotation_intents", schema=None) as batch_op:
        batch_op.drop_index("ix_rotation_intents_state")
    op.drop_table("rotation_intents")

    with op.batch_alter_table("key_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_key_deliveries_target")
    op.drop_table("key_deliveries")

    with op.batch_alter_table("stored_secrets", schema=None) as batch_op:
        batch_op.drop_index("ix_stored_secrets_wrapper_key_id")
    op.drop_table("stored_secrets")
