"""``order_lifecycles.exit_legs``: a signal's take-profit ladder, break-even and trailing
stop (issue 9), as JSON; NULL for a seed signal. Only a column is added (rebuilding the
table on SQLite would cascade-delete its transitions and positions).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("order_lifecycles", sa.Column("exit_legs", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_lifecycles", recreate="never") as batch:
        batch.drop_column("exit_legs")
