"""customer_identifiers: no foreign key to customers

An import writes ~20 identifier rows per customer and PostgreSQL's per-row check of the key was
half the cost of writing them. The guarantee it gave (no identifier outlives its erased
customer) is kept by the ingestor's lock on existing customers and by erasure deleting the
customer before its identifiers; see ``CustomerIdentifier``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 04:15:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_FK = "fk_customer_identifiers_customer_key_customers"


def upgrade() -> None:
    with op.batch_alter_table("customer_identifiers", schema=None) as batch_op:
        batch_op.drop_constraint(_FK, type_="foreignkey")


def downgrade() -> None:
    op.execute(
        "DELETE FROM customer_identifiers WHERE customer_key NOT IN (SELECT customer_key FROM customers)"
    )
    with op.batch_alter_table("customer_identifiers", schema=None) as batch_op:
        batch_op.create_foreign_key(_FK, "customers", ["customer_key"], ["customer_key"], ondelete="CASCADE")
