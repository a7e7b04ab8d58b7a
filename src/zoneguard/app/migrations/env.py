"""Alembic's environment: always run with a connection handed over by
:func:`zoneguard.app.db.migrate.upgrade` (no ini file, no URL here)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from zoneguard.app.db.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if _connection is None:
    raise RuntimeError("run migrations with `zoneguard app migrate` (zoneguard.app.db.migrate)")
_run(_connection)
