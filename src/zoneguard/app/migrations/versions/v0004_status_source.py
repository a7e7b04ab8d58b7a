"""``order_lifecycles.status_source`` (who set the status: the app's own conclusions give
way to the worker's word), and ``positions.close_reason`` as TEXT (the worker's reason is
free text; VARCHAR(32) made PostgreSQL refuse a longer one with a 500).

SQLite needs no type change for the reason (it does not enforce VARCHAR lengths), but
``positions`` is rebuilt there so the declared type matches; nothing references
``positions``, so the copy is safe. ``order_lifecycles`` only gains a column: rebuilding it
on SQLite would cascade-delete its transitions and positions.

Revision ID: 0004
Revises: 0003
Create Date: 2025-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


_BACKFILL = """
UPDATE order_lifecycles SET status_source = (
    SELECT t.source FROM order_transitions t
    WHERE t.order_id = order_lifecycles.id AND t.applied
    ORDER BY t.seq DESC LIMIT 1
)
"""
"""Orders the bus failed before this fix then take the worker's later news as well."""


def upgrade() -> None:
    op.add_column("order_lifecycles", sa.Column("status_source", sa.String(16), nullable=True))
    op.execute(_BACKFILL)
    with op.batch_alter_table("positions") as batch:
        batch.alter_column("close_reason", type_=sa.Text(), existing_type=sa.String(32))


def downgrade() -> None:
    with op.batch_alter_table("positions") as batch:
        batch.alter_column(
            "close_reason",
            type_=sa.String(32),
            existing_type=sa.Text(),
            postgresql_using="left(close_reason, 32)",
        )
    with op.batch_alter_table("order_lifecycles", recreate="never") as batch:
        batch.drop_column("status_source")
