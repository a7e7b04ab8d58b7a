"""The live feed's change sequence: ``change_seq`` on orders and positions, and the
``change_counter`` row that hands the values out in commit order.

Only columns are added (no table is rebuilt): on SQLite, rebuilding ``order_lifecycles``
would drop it, and its ON DELETE CASCADE would empty transitions and positions.

Revision ID: 0003
Revises: 0002
Create Date: 2025-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TABLES = ("order_lifecycles", "positions")


def upgrade() -> None:
    counter = op.create_table(
        "change_counter",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(counter, [{"id": 1, "value": 0}])
    for table in _TABLES:
        op.add_column(
            table, sa.Column("change_seq", sa.BigInteger(), nullable=False, server_default="0")
        )
        op.create_index(f"ix_{table}_change_seq", table, ["change_seq"])


def downgrade() -> None:
    for table in _TABLES:
        op.drop_index(f"ix_{table}_change_seq", table)
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.drop_column("change_seq")
    op.drop_table("change_counter")
