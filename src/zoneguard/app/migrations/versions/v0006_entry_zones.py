"""``order_lifecycles.entry_zones``: a signal's several entry zones (pyramiding), as JSON
``[{"min", "max", "size_percent"}]`` of exact decimal strings; NULL for a seed signal,
whose one zone stays in ``entry_zone_min`` / ``entry_zone_max`` (with zones, those two
hold their span). Only a column is added (rebuilding the table on SQLite would
cascade-delete its transitions and positions).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("order_lifecycles", sa.Column("entry_zones", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_lifecycles", recreate="never") as batch:
        batch.drop_column("entry_zones")
