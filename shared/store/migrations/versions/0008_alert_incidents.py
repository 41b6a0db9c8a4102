"""Alert incidents: an alert is sent once per incident, which stays open while its signal lasts

At most one open incident per key (a partial unique index), so two scheduler replicas checking
at once cannot both open one and both send its alert.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 01:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.store.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_OPEN = sa.text("resolved_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "alert_incidents",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("opened_at", shared.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", shared.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", shared.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("notified_at", shared.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_incidents")),
    )
    with op.batch_alter_table("alert_incidents", schema=None) as batch_op:
        batch_op.create_index(
            "uq_alert_incidents_open", ["key"], unique=True, sqlite_where=_OPEN, postgresql_where=_OPEN
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_incidents", schema=None) as batch_op:
        batch_op.drop_index("uq_alert_incidents_open")
    op.drop_table("alert_incidents")
