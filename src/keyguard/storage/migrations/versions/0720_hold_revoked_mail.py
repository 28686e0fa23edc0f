"""tenants.hold_revoked_mail: hold queued mail of keys revoked before delivery

Revision ID: 0720
Revises: 0710

On by default (docs/mail.md): existing tenants get it too, since a revocation is most often a
compromise and what the key queued the attacker's mail.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0720"
down_revision = "0710"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column("hold_revoked_mail", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("hold_revoked_mail")
