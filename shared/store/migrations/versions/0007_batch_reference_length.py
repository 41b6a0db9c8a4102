"""sync_batches.session_id holds any platform's batch reference (up to 255 characters)

Meta's upload session ids fit in 32 characters; Google's references do not: an Ads API job is
``customers/{cid}/offlineUserDataJobs/{id}`` and a Data Manager safe replace keeps its
``replace-as-of:<time>|<request id>`` so a resumed repair knows its T.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 00:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_batches", schema=None) as batch_op:
        batch_op.alter_column(
            "session_id",
            existing_type=sa.String(length=32),
            type_=sa.String(length=255),
            existing_nullable=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_batches", schema=None) as batch_op:
        batch_op.alter_column(
            "session_id",
            existing_type=sa.String(length=255),
            type_=sa.String(length=32),
            existing_nullable=True,
        )
