"""Bus claims that cannot be settled by a lapsed consumer: a ``claim_token`` per claim, and
row ids that are never reused on SQLite (AUTOINCREMENT).

SQLite cannot add AUTOINCREMENT to a table, so both bus tables are rebuilt there (nothing
references them, so the copy is safe); PostgreSQL's sequences never reuse ids already.

Revision ID: 0002
Revises: 0001
Create Date: 2025-12-02
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TABLES = ("bus_messages", "bus_failed_messages")


def _rebuild_on_sqlite() -> Literal["always", "auto"]:
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(
            table, recreate=_rebuild_on_sqlite(), table_kwargs={"sqlite_autoincrement": True}
        ) as batch:
            if table == "bus_messages":
                batch.add_column(sa.Column("claim_token", sa.String(32), nullable=True))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, recreate=_rebuild_on_sqlite()) as batch:
            if table == "bus_messages":
                batch.drop_column("claim_token")
