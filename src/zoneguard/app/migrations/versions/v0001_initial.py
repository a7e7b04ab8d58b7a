"""Initial schema: order lifecycles and transitions, positions, callback dedupe, the bus.

Revision ID: 0001
Revises:
Create Date: 2025-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from zoneguard.app.db.types import decimal_column_type, id_column_type

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _decimal(name: str) -> sa.Column[object]:
    return sa.Column(name, decimal_column_type(), nullable=True)


def upgrade() -> None:
    op.create_table(
        "order_lifecycles",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=True),
        sa.Column("side", sa.String(8), nullable=True),
        _decimal("entry_zone_min"),
        _decimal("entry_zone_max"),
        _decimal("quantity"),
        sa.Column("leverage", sa.Integer(), nullable=True),
        _decimal("stop_loss"),
        _decimal("take_profit"),
        sa.Column("timeout_seconds", sa.Integer(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=True, unique=True),
        sa.Column("exchange_order_id", sa.String(64), nullable=True),
        sa.Column("client_order_id", sa.String(64), nullable=True),
        sa.Column("close_order_id", sa.String(64), nullable=True),
        _decimal("entry_price"),
        _decimal("close_price"),
        _decimal("filled_contracts"),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_order_lifecycles_status", "order_lifecycles", ["status"])
    op.create_index("ix_order_lifecycles_created_ms", "order_lifecycles", ["created_ms"])
    op.create_index("ix_order_lifecycles_updated_ms", "order_lifecycles", ["updated_ms"])

    op.create_table(
        "order_transitions",
        sa.Column("id", id_column_type(), primary_key=True, autoincrement=True),
        sa.Column(
            "order_id",
            sa.String(64),
            sa.ForeignKey("order_lifecycles.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("from_status", sa.String(32), nullable=True),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("event_time", sa.String(40), nullable=True),
        sa.Column("event_id", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.UniqueConstraint("order_id", "seq", name="uq_order_transitions_seq"),
    )
    op.create_index("ix_order_transitions_order_id", "order_transitions", ["order_id"])

    op.create_table(
        "positions",
        sa.Column(
            "id",
            sa.String(64),
            sa.ForeignKey("order_lifecycles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("symbol", sa.String(32), nullable=True),
        sa.Column("side", sa.String(8), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        _decimal("quantity"),
        _decimal("filled_contracts"),
        _decimal("entry_price"),
        _decimal("exit_price"),
        _decimal("realized_pnl"),
        _decimal("fees"),
        sa.Column("close_reason", sa.String(32), nullable=True),
        sa.Column("close_order_id", sa.String(64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("opened_ms", sa.BigInteger(), nullable=False),
        sa.Column("closed_ms", sa.BigInteger(), nullable=True),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_positions_status", "positions", ["status"])
    op.create_index("ix_positions_updated_ms", "positions", ["updated_ms"])

    op.create_table(
        "callback_events",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
    )
    op.create_index("ix_callback_events_order_id", "callback_events", ["order_id"])

    op.create_table(
        "bus_messages",
        sa.Column("id", id_column_type(), primary_key=True, autoincrement=True),
        sa.Column("message_uuid", sa.String(36), nullable=False),
        sa.Column("message_type", sa.String(64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_ms", sa.BigInteger(), nullable=False),
        sa.Column("claimed_until_ms", sa.BigInteger(), nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_bus_messages_due", "bus_messages", ["available_ms", "id"])
    op.create_index("ix_bus_messages_message_uuid", "bus_messages", ["message_uuid"])

    op.create_table(
        "bus_failed_messages",
        sa.Column("id", id_column_type(), primary_key=True, autoincrement=True),
        sa.Column("message_uuid", sa.String(36), nullable=False),
        sa.Column("message_type", sa.String(64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("failed_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_bus_failed_messages_message_uuid", "bus_failed_messages", ["message_uuid"])
    op.create_index("ix_bus_failed_messages_failed_ms", "bus_failed_messages", ["failed_ms"])


def downgrade() -> None:
    for table in (
        "bus_failed_messages",
        "bus_messages",
        "callback_events",
        "positions",
        "order_transitions",
        "order_lifecycles",
    ):
        op.drop_table(table)
