"""REST API and scheduler: sync requests, audience definition versions, nightly refreshes

``sync_requests`` are syncs asked for through the API or by the scheduler, carried out by a
worker; ``active_syncs`` holds one row per audience and platform while a request for it is open,
so a second trigger fails on the primary key (409) whichever replica takes it.
``audience_versions`` keeps every definition stored through the API. ``scheduled_refreshes`` is
keyed by the cron slot a refresh serves, so two scheduler replicas cannot both run one.
Dead letters gain who resolved them, when, and when they were last replayed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 00:21:50
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audience_versions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("audience_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("created_at", shared.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audience_versions")),
        sa.UniqueConstraint("audience_key", "version", name=op.f("uq_audience_versions_audience_key")),
    )
    with op.batch_alter_table("audience_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audience_versions_audience_key"), ["audience_key"], unique=False)

    op.create_table(
        "scheduled_refreshes",
        sa.Column("slot", shared.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("started_at", shared.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", shared.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", shared.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("slot", name=op.f("pk_scheduled_refreshes")),
    )
    op.create_table(
        "sync_requests",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("audiences", sa.JSON(), nullable=False),
        sa.Column("destinations", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", shared.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("started_at", shared.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", shared.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("cancel_requested_at", shared.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("heartbeat_at", shared.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("run_ids", sa.JSON(), nullable=True),
        sa.Column("results", sa.JSON(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_requests")),
    )
    with op.batch_alter_table("sync_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_requests_requested_at"), ["requested_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sync_requests_status"), ["status"], unique=False)

    op.create_table(
        "active_syncs",
        sa.Column("audience_key", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["sync_requests.id"],
            name=op.f("fk_active_syncs_request_id_sync_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("audience_key", "platform", name=op.f("pk_active_syncs")),
    )
    with op.batch_alter_table("active_syncs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_active_syncs_request_id"), ["request_id"], unique=False)

    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("resolved_at", shared.store.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("replayed_at", shared.store.types.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_column("replayed_at")
        batch_op.drop_column("resolved_by")
        batch_op.drop_column("resolved_at")

    with op.batch_alter_table("active_syncs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_active_syncs_request_id"))

    op.drop_table("active_syncs")
    with op.batch_alter_table("sync_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_requests_status"))
        batch_op.drop_index(batch_op.f("ix_sync_requests_requested_at"))

    op.drop_table("sync_requests")
    op.drop_table("scheduled_refreshes")
    with op.batch_alter_table("audience_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audience_versions_audience_key"))

    op.drop_table("audience_versions")
