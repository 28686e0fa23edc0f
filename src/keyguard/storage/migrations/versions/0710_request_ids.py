"""usage events: request_id

Revision ID: 0710
Revises: 0400, 0600

The id of the HTTP request that left the event (X-Request-ID, the access log line, problem
JSON's `instance`); NULL for events from other doors (SMTP) and for rows written before.
Also joins the mail and secrets branches into one head. batch_alter_table: SQLite cannot
ALTER most things, and adding a nullable column stays a plain ALTER on both backends.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0710"
down_revision = ("0400", "0600")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_events") as batch:
        batch.add_column(sa.Column("request_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("usage_events") as batch:
        batch.drop_column("request_id")
