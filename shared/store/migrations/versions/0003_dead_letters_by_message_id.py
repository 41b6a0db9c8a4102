"""dead letters keyed by envelope id, not by source offset

Each embedded ``import`` starts a fresh broker whose offsets restart at 0, so a key of
(consumer, topic, partition, offset) made a later import's refusals collide with an earlier
one's and be silently dropped. A dead letter is now unique per consumer and envelope id; only a
record with no decodable id falls back to its source coordinates (a partial unique index).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_NO_ID = sa.text("message_id IS NULL")


def upgrade() -> None:
    # Under the old key the same message could be recorded twice at two offsets (a broker
    # refilled from the outbox); keep the first record of each id so the new key can hold.
    op.execute(
        "DELETE FROM dead_letters WHERE message_id IS NOT NULL AND id NOT IN"
        " (SELECT MIN(id) FROM dead_letters WHERE message_id IS NOT NULL GROUP BY consumer, message_id)"
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_constraint("uq_dead_letters_consumer", type_="unique")
        batch_op.create_unique_constraint("uq_dead_letters_message", ["consumer", "message_id"])
        batch_op.create_index(
            "uq_dead_letters_source",
            ["consumer", "topic", "partition", "offset"],
            unique=True,
            sqlite_where=_NO_ID,
            postgresql_where=_NO_ID,
        )


def downgrade() -> None:
    # The old key cannot hold two letters at one offset (two imports' refusals): keep the first.
    op.execute(
        "DELETE FROM dead_letters WHERE id NOT IN"
        ' (SELECT MIN(id) FROM dead_letters GROUP BY consumer, topic, "partition", "offset")'
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index("uq_dead_letters_source")
        batch_op.drop_constraint("uq_dead_letters_message", type_="unique")
        batch_op.create_unique_constraint(
            "uq_dead_letters_consumer", ["consumer", "topic", "partition", "offset"]
        )
