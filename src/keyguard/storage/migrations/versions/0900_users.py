"""dashboard users: people, memberships, passkeys, recovery codes, web sessions

Revision ID: 0900
Revises: 0840

`users` are people who sign in to the dashboard (docs/dashboard.md); `user_memberships` their
role per tenant; `webauthn_credentials` their passkeys; `recovery_codes` SHA-256 digests of
one-time codes; `web_sessions` server-side sessions (the digest of the cookie's token).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import keyguard.storage.base

revision = "0900"
down_revision = "0840"
branch_labels = None
depends_on = None

_TIME = keyguard.storage.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("totp_enabled", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("setup_token_hash", sa.String(length=64), nullable=True),
        sa.Column("setup_expires_at", _TIME(timezone=True), nullable=True),
        sa.Column("webauthn_handle", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TIME(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("setup_token_hash", name=op.f("uq_users_setup_token_hash")),
    )
    op.create_table(
        "user_memberships",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", _TIME(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_user_memberships_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_memberships_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "tenant_id", name=op.f("pk_user_memberships")),
    )
    op.create_table(
        "webauthn_credentials",
        sa.Column("id", sa.String(length=400), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("created_at", _TIME(timezone=True), nullable=False),
        sa.Column("last_used_at", _TIME(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_webauthn_credentials_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webauthn_credentials")),
    )
    with op.batch_alter_table("webauthn_credentials") as batch:
        batch.create_index("ix_webauthn_credentials_user_id", ["user_id"], unique=False)
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", _TIME(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sa.UniqueConstraint("user_id", "code_hash", name="uq_recovery_codes_code"),
    )
    with op.batch_alter_table("recovery_codes") as batch:
        batch.create_index("ix_recovery_codes_user_id", ["user_id"], unique=False)
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=True),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column("env", sa.String(length=8), nullable=False),
        sa.Column("challenge", sa.LargeBinary(), nullable=True),
        sa.Column("form_nonce", sa.String(length=64), nullable=True),
        sa.Column("created_at", _TIME(timezone=True), nullable=False),
        sa.Column("last_seen_at", _TIME(timezone=True), nullable=False),
        sa.Column("reauth_at", _TIME(timezone=True), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
    )
    with op.batch_alter_table("web_sessions") as batch:
        batch.create_index("ix_web_sessions_user", ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_index("ix_web_sessions_user")
    op.drop_table("web_sessions")
    with op.batch_alter_table("recovery_codes") as batch:
        batch.drop_index("ix_recovery_codes_user_id")
    op.drop_table("recovery_codes")
    with op.batch_alter_table("webauthn_credentials") as batch:
        batch.drop_index("ix_webauthn_credentials_user_id")
    op.drop_table("webauthn_credentials")
    op.drop_table("user_memberships")
    op.drop_table("users")
