"""The app's tables. Times are epoch milliseconds (one portable type on SQLite and
PostgreSQL); prices and sizes are exact decimals (:class:`ExactDecimal`).

The schema itself is created by the Alembic migrations in ``zoneguard/app/migrations``;
a test checks that they and these models agree.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from zoneguard.app.db.types import ExactDecimal, id_column_type


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        Decimal: ExactDecimal(),
        dict[str, Any]: JSON(),
    }


class OrderLifecycle(Base):
    """One order from the signal to its end: the plan, the facts the worker reported, and
    (in :class:`OrderTransition`) every step with its time."""

    __tablename__ = "order_lifecycles"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    origin: Mapped[str] = mapped_column(String(16))
    """``signal`` (POST /api/signals), ``monitor`` (POST /api/positions/monitor) or
    ``external`` (first heard of in a callback)."""
    status: Mapped[str] = mapped_column(String(32), index=True)
    status_source: Mapped[str | None] = mapped_column(String(16))
    """Who set ``status``: the origin, ``bus``, ``api`` or ``callback`` (see ``rules.py``:
    the app's own conclusions give way to the worker's word)."""
    symbol: Mapped[str | None] = mapped_column(String(32))
    side: Mapped[str | None] = mapped_column(String(8))
    entry_zone_min: Mapped[Decimal | None]
    entry_zone_max: Mapped[Decimal | None]
    quantity: Mapped[Decimal | None]
    leverage: Mapped[int | None] = mapped_column(Integer)
    stop_loss: Mapped[Decimal | None]
    take_profit: Mapped[Decimal | None]
    timeout_seconds: Mapped[int | None] = mapped_column(Integer)
    signal_metadata: Mapped[dict[str, Any]] = mapped_column("metadata")
    exit_legs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """The plan's ``take_profits``, ``break_even`` and ``trailing_stop`` as sent to the
    worker (None for a seed signal)."""
    entry_zones: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, nullable=True)
    """The plan's ``entry_zones`` (``min``, ``max``, ``size_percent``, exact decimal
    strings) as sent to the worker; None for a seed signal's one zone. With zones,
    ``entry_zone_min`` / ``entry_zone_max`` are their span."""
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    exchange_order_id: Mapped[str | None] = mapped_column(String(64))
    client_order_id: Mapped[str | None] = mapped_column(String(64))
    close_order_id: Mapped[str | None] = mapped_column(String(64))
    entry_price: Mapped[Decimal | None]
    close_price: Mapped[Decimal | None]
    filled_contracts: Mapped[Decimal | None]
    reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[int | None] = mapped_column(Integer)
    created_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    updated_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    version: Mapped[int] = mapped_column(Integer)
    """Bumped by every change."""
    change_seq: Mapped[int] = mapped_column(BigInteger, index=True, server_default="0")
    """The :class:`ChangeCounter` value of the transaction that last changed the row."""

    transitions: Mapped[list[OrderTransition]] = relationship(
        back_populates="order", order_by="OrderTransition.seq", cascade="all, delete-orphan"
    )


class OrderTransition(Base):
    """One thing that happened to an order, applied or not (a late ``placed`` after
    ``closed`` is kept, with ``applied`` false, and moves nothing)."""

    __tablename__ = "order_transitions"
    __table_args__ = (UniqueConstraint("order_id", "seq", name="uq_order_transitions_seq"),)

    id: Mapped[int] = mapped_column(id_column_type(), primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("order_lifecycles.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(32))
    """``queued``, ``submitted``, a callback status, ``undelivered``..."""
    source: Mapped[str] = mapped_column(String(16))
    """``signal``, ``bus`` (the handler) or ``callback``."""
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    applied: Mapped[bool] = mapped_column(Boolean)
    at_ms: Mapped[int] = mapped_column(BigInteger)
    """When the app recorded it."""
    event_time: Mapped[str | None] = mapped_column(String(40))
    """When it happened, as the worker said (its ``timestamp``)."""
    event_id: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]]

    order: Mapped[OrderLifecycle] = relationship(back_populates="transitions")


class Position(Base):
    """The position an order opened (one per order): entry, exit, PnL, why it closed."""

    __tablename__ = "positions"

    id: Mapped[str] = mapped_column(
        String(64), ForeignKey("order_lifecycles.id", ondelete="CASCADE"), primary_key=True
    )
    symbol: Mapped[str | None] = mapped_column(String(32))
    side: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), index=True)
    quantity: Mapped[Decimal | None]
    filled_contracts: Mapped[Decimal | None]
    entry_price: Mapped[Decimal | None]
    exit_price: Mapped[Decimal | None]
    realized_pnl: Mapped[Decimal | None]
    fees: Mapped[Decimal | None]
    close_reason: Mapped[str | None] = mapped_column(Text)
    close_order_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    opened_ms: Mapped[int] = mapped_column(BigInteger)
    closed_ms: Mapped[int | None] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    version: Mapped[int] = mapped_column(Integer)
    change_seq: Mapped[int] = mapped_column(BigInteger, index=True, server_default="0")


class ChangeCounter(Base):
    """One row: the last change sequence handed out (see ``db/changes.py``)."""

    __tablename__ = "change_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger)


class CallbackEvent(Base):
    """Every callback applied, keyed by its ``event_id``: the worker delivers at least
    once, and the unique key makes a second delivery a no-op."""

    __tablename__ = "callback_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(32))
    received_ms: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[dict[str, Any]]


class QueuedMessage(Base):
    """The bus's table: the queue itself (``db://``) or the outbox relayed to RabbitMQ
    (``amqp://``). Written in the same transaction as the change that causes it."""

    __tablename__ = "bus_messages"
    __table_args__ = (
        Index("ix_bus_messages_due", "available_ms", "id"),
        # Ids never come back: a consumer with a lapsed claim must not name a newer message.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(id_column_type(), primary_key=True, autoincrement=True)
    message_uuid: Mapped[str] = mapped_column(String(36), index=True)
    """Stays the same across retries (logs, AMQP ``message_id``)."""
    message_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]]
    attempts: Mapped[int] = mapped_column(Integer)
    """Handling attempts already made and failed."""
    available_ms: Mapped[int] = mapped_column(BigInteger)
    claimed_until_ms: Mapped[int | None] = mapped_column(BigInteger)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claim_token: Mapped[str | None] = mapped_column(String(32))
    """New with every claim; settling a claim checks it (see ``bus/table.py``)."""
    last_error: Mapped[str | None] = mapped_column(Text)
    created_ms: Mapped[int] = mapped_column(BigInteger)


class FailedMessage(Base):
    """The failure queue: messages that failed every attempt, for an operator to retry."""

    __tablename__ = "bus_failed_messages"
    __table_args__ = ({"sqlite_autoincrement": True},)  # an operator's retry names an id

    id: Mapped[int] = mapped_column(id_column_type(), primary_key=True, autoincrement=True)
    message_uuid: Mapped[str] = mapped_column(String(36), index=True)
    message_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]]
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    failed_ms: Mapped[int] = mapped_column(BigInteger, index=True)
