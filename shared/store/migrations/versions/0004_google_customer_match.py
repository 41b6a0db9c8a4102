"""Google Customer Match: customers' ad consent signals and a shared API request budget

``customers.ad_user_data`` / ``ad_personalization`` hold Google's two consent signals (EU user
consent policy); NULL means never stated. ``api_quotas`` counts the requests every syncer replica
spends from one Google Cloud project or developer token, per minute and per day, so the quota
is shared in the database rather than guessed per process.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ad_user_data", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("ad_personalization", sa.Boolean(), nullable=True))
    op.create_table(
        "api_quotas",
        sa.Column("scope", sa.String(length=128), nullable=False),
        sa.Column("minute_start", sa.BigInteger(), nullable=False),
        sa.Column("minute_used", sa.Integer(), nullable=False),
        sa.Column("day_start", sa.BigInteger(), nullable=False),
        sa.Column("day_used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_api_quotas")),
    )


def downgrade() -> None:
    op.drop_table("api_quotas")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("ad_personalization")
        batch_op.drop_column("ad_user_data")
