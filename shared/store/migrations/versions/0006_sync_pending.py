"""sync_pending: syncers' customer keys taken from labels.changed and not yet synced

The syncer consumer used to hold these in memory and commit the offsets at once, so keys
pending at a crash waited for the next full sync. Now the keys are written here before the
offsets are committed and deleted only after the sync that covered them succeeded.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 00:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_pending",
        sa.Column("syncer", sa.String(length=32), nullable=False),
        sa.Column("customer_key", sa.String(length=64), nullable=False),
        sa.Column("noted", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("syncer", "customer_key", name=op.f("pk_sync_pending")),
    )
    with op.batch_alter_table("sync_pending", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_pending_noted"), ["noted"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sync_pending", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_pending_noted"))
    op.drop_table("sync_pending")
