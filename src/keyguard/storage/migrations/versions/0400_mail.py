"""mail: domains, contacts, lists, templates, campaigns, outbox

Revision ID: 0400
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import keyguard.storage.base

# The partial index of claimable messages (keyguard.mail.models.DUE).
DUE = sa.text("state IN ('queued', 'deferred', 'sending')")

revision = "0400"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_idempotency_keys",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("env", sa.String(length=8), nullable=False),
        sa.Column("idem_key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column(
            "response",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "env", "idem_key", name=op.f("pk_mail_idempotency_keys")
        ),
    )
    with op.batch_alter_table("mail_idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mail_idempotency_keys_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "mail_quota_usage",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "day", name=op.f("pk_mail_quota_usage")),
    )
    op.create_table(
        "mail_contacts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("env", sa.String(length=8), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=True),
        sa.Column("last_name", sa.String(length=200), nullable=True),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_mail_contacts_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_contacts")),
        sa.UniqueConstraint("tenant_id", "env", "email", name="uq_mail_contacts_email"),
    )
    with op.batch_alter_table("mail_contacts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mail_contacts_partition", ["tenant_id", "env", "id"], unique=False
        )

    op.create_table(
        "mail_internal_recipients",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("created_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_mail_internal_recipients_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "address", name=op.f("pk_mail_internal_recipients")),
    )
    op.create_table(
        "mail_lists",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("env", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_mail_lists_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_lists")),
        sa.UniqueConstraint("tenant_id", "env", "name", name="uq_mail_lists_name"),
    )
    with op.batch_alter_table("mail_lists", schema=None) as batch_op:
        batch_op.create_index("ix_mail_lists_partition", ["tenant_id", "env", "id"], unique=False)

    op.create_table(
        "mail_messages",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("env", sa.String(length=8), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=True),
        sa.Column("campaign_id", sa.String(length=40), nullable=True),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column(
            "recipients",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "rcpt",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("sandboxed", sa.Boolean(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("mime", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("lease_owner", sa.String(length=80), nullable=True),
        sa.Column("claim_token", sa.String(length=40), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_mail_messages_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_messages")),
    )
    with op.batch_alter_table("mail_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mail_messages_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(
            "ix_mail_messages_due",
            ["next_attempt_at"],
            unique=False,
            sqlite_where=DUE,
            postgresql_where=DUE,
        )
        batch_op.create_index(
            "ix_mail_messages_partition", ["tenant_id", "env", "id"], unique=False
        )
        batch_op.create_index(
            "ix_mail_messages_sandbox", ["tenant_id", "env", "sandboxed", "id"], unique=False
        )

    op.create_table(
        "mail_sender_domains",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("created_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_mail_sender_domains_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "domain", name=op.f("pk_mail_sender_domains")),
    )
    op.create_table(
        "mail_suppressions",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("env", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("created_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_mail_suppressions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "env", "address", name=op.f("pk_mail_suppressions")),
    )
    op.create_table(
        "mail_templates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("env", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("created_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_mail_templates_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_templates")),
        sa.UniqueConstraint("tenant_id", "env", "name", name="uq_mail_templates_name"),
    )
    with op.batch_alter_table("mail_templates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mail_templates_partition", ["tenant_id", "env", "id"], unique=False
        )

    op.create_table(
        "mail_campaigns",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("env", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("template_id", sa.String(length=40), nullable=False),
        sa.Column("list_id", sa.String(length=40), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column(
            "summary",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("sent_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["list_id"], ["mail_lists.id"], name=op.f("fk_mail_campaigns_list_id_mail_lists")
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["mail_templates.id"],
            name=op.f("fk_mail_campaigns_template_id_mail_templates"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_mail_campaigns_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_campaigns")),
    )
    with op.batch_alter_table("mail_campaigns", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mail_campaigns_partition", ["tenant_id", "env", "id"], unique=False
        )

    op.create_table(
        "mail_delivery_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("message_id", sa.String(length=40), nullable=False),
        sa.Column("ts", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=True),
        sa.Column("smtp_code", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["mail_messages.id"],
            name=op.f("fk_mail_delivery_events_message_id_mail_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_delivery_events")),
    )
    with op.batch_alter_table("mail_delivery_events", schema=None) as batch_op:
        batch_op.create_index("ix_mail_delivery_events_message", ["message_id", "id"], unique=False)

    op.create_table(
        "mail_list_members",
        sa.Column("list_id", sa.String(length=40), nullable=False),
        sa.Column("contact_id", sa.String(length=40), nullable=False),
        sa.Column("added_at", keyguard.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["mail_contacts.id"],
            name=op.f("fk_mail_list_members_contact_id_mail_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["mail_lists.id"],
            name=op.f("fk_mail_list_members_list_id_mail_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("list_id", "contact_id", name=op.f("pk_mail_list_members")),
    )
    with op.batch_alter_table("mail_list_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mail_list_members_contact_id"), ["contact_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("mail_list_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_list_members_contact_id"))

    op.drop_table("mail_list_members")
    with op.batch_alter_table("mail_delivery_events", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_delivery_events_message")

    op.drop_table("mail_delivery_events")
    with op.batch_alter_table("mail_campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_campaigns_partition")

    op.drop_table("mail_campaigns")
    with op.batch_alter_table("mail_templates", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_templates_partition")

    op.drop_table("mail_templates")
    op.drop_table("mail_suppressions")
    op.drop_table("mail_sender_domains")
    with op.batch_alter_table("mail_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_messages_sandbox")
        batch_op.drop_index("ix_mail_messages_partition")
        batch_op.drop_index("ix_mail_messages_due")
        batch_op.drop_index(batch_op.f("ix_mail_messages_campaign_id"))

    op.drop_table("mail_messages")
    with op.batch_alter_table("mail_lists", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_lists_partition")

    op.drop_table("mail_lists")
    op.drop_table("mail_internal_recipients")
    with op.batch_alter_table("mail_contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_contacts_partition")

    op.drop_table("mail_contacts")
    op.drop_table("mail_quota_usage")
    with op.batch_alter_table("mail_idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_idempotency_keys_created_at"))

    op.drop_table("mail_idempotency_keys")
