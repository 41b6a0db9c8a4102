"""alert_incidents: the resolved message and delivery retries with backoff

``resolved_notified_at`` records that the "resolved" message went out; ``attempts`` counts the
failed deliveries of the message now due, and ``retry_at`` is the earliest next try (also the
lease a sender takes before posting, so two replicas never post the same message).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 01:12:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.store.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_incidents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("resolved_notified_at", shared.store.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("retry_at", shared.store.types.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_incidents", schema=None) as batch_op:
        batch_op.drop_column("retry_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("resolved_notified_at")
