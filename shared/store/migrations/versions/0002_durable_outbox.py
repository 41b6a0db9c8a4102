"""durable outbox: rows kept until consumed, webhook inbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("published_at", shared.store.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_outbox_pending", ["published_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending")
        batch_op.drop_column("published_at")
        batch_op.drop_column("message_id")
