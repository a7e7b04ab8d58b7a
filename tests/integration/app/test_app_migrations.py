"""The Alembic migrations build exactly the models' schema, on SQLite and PostgreSQL;
migrating is idempotent and safe to run from two processes at once; decimals stay exact."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from zoneguard.app import store
from zoneguard.app.db.engine import Database
from zoneguard.app.db.migrate import current_revision, head_revision, upgrade
from zoneguard.app.db.models import Base, OrderLifecycle, Position, QueuedMessage


def test_migrations_match_the_models(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert current_revision(db.engine) is None
        assert upgrade(db.engine) == head_revision()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        tables = set(inspect(db.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert upgrade(db.engine) == head_revision()  # again: nothing to do
    finally:
        db.dispose()


async def test_two_migrators_at_once(database_url: str) -> None:
    first, second = Database(database_url), Database(database_url)
    try:
        revisions = await asyncio.gather(
            asyncio.to_thread(upgrade, first.engine), asyncio.to_thread(upgrade, second.engine)
        )
        assert list(revisions) == [head_revision(), head_revision()]
    finally:
        first.dispose()
        second.dispose()


def test_decimals_come_back_exactly(database_url: str) -> None:
    db = Database(database_url)
    try:
        upgrade(db.engine)
        values = [
            Decimal("0.000000000000000001"),
            Decimal("123456789012345.123456789"),
            Decimal("65250"),
        ]

        def write(session: Session) -> None:
            for index, value in enumerate(values):
                order = store.create_order(
                    session, f"o-{index}", origin="signal", at_ms=1, symbol="X"
                )
                order.entry_price = value

        db.call(write)
        read = db.call(
            lambda s: [s.get_one(OrderLifecycle, f"o-{i}").entry_price for i in range(3)]
        )
        assert read == values
        assert [str(v) for v in read] == ["1E-18", "123456789012345.123456789", "65250"]
    finally:
        db.dispose()


def test_upgrading_a_database_in_use_keeps_its_rows(database_url: str) -> None:
    """Later migrations rebuild some tables on SQLite; none may lose (or cascade-delete)
    a row on the way."""
    db = Database(database_url)
    try:
        upgrade(db.engine, "0001")
        with db.engine.begin() as connection:
            for statement in (
                "INSERT INTO order_lifecycles (id, origin, status, metadata, created_ms,"
                " updated_ms, version) VALUES ('o-1', 'signal', 'filled', '{}', 1, 2, 3)",
                "INSERT INTO order_transitions (order_id, seq, event, source, to_status,"
                " applied, at_ms, data) VALUES ('o-1', 0, 'queued', 'signal', 'queued',"
                " true, 1, '{}')",
                "INSERT INTO order_transitions (order_id, seq, event, source, to_status,"
                " applied, at_ms, data) VALUES ('o-1', 1, 'filled', 'callback', 'filled',"
                " true, 2, '{}')",
                "INSERT INTO order_transitions (order_id, seq, event, source, to_status,"
                " applied, at_ms, data) VALUES ('o-1', 2, 'failed', 'bus', 'filled',"
                " false, 3, '{}')",
                "INSERT INTO positions (id, status, close_reason, opened_ms, updated_ms,"
                " version) VALUES ('o-1', 'open', 'stop_loss', 1, 2, 1)",
                "INSERT INTO bus_messages (id, message_uuid, message_type, body, attempts,"
                " available_ms, created_ms) VALUES (7, 'u-7', 'PlaceOrderMessage', '{}', 0, 0, 0)",
            ):
                connection.exec_driver_sql(statement)
        assert upgrade(db.engine) == head_revision()

        def read(session: Session) -> tuple[object, ...]:
            order = session.get_one(OrderLifecycle, "o-1")
            position = session.get_one(Position, "o-1")
            message = session.get_one(QueuedMessage, 7)
            return (
                (order.status, order.status_source, len(order.transitions), order.change_seq),
                (position.status, position.close_reason),
                (message.message_uuid, message.claim_token),
            )

        assert db.call(read) == (
            ("filled", "callback", 3, 0),  # who set the status: the last applied news
            ("open", "stop_loss"),
            ("u-7", None),
        )
    finally:
        db.dispose()
