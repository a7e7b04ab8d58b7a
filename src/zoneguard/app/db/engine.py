"""Engine and transactions for SQLite (embedded default) and PostgreSQL.

SQLAlchemy is used synchronously and each transaction runs in a worker thread
(:meth:`Database.run`): the app's statements are short, and this keeps one driver per
database (psycopg 3, the standard library's sqlite3) instead of an async twin of each.

SQLite has a single writer: every transaction starts with ``BEGIN IMMEDIATE``, which takes
the write lock up front (waiting up to ``busy_timeout``) instead of failing half-way with
"database is locked" when two writers meet; WAL lets readers carry on meanwhile, and
``synchronous=FULL`` makes a commit survive a power cut, not just a crash.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from zoneguard.app.db import changes

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str) -> URL:
    """``postgresql://`` means psycopg 3 (SQLAlchemy would pick psycopg2, not installed)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_app_engine(url: str) -> Engine:
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _enable_wal(cursor: Any) -> None:
    """Switch a fresh database to WAL, waiting out a concurrent opener.

    The switch needs the database to itself, and SQLite answers "database is locked" at once
    (no busy handler) when another connection opens the same new file at that moment, as two
    processes migrating together do; once WAL is on, the setting is a no-op."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class Database:
    """The engine plus transactions: ``await db.run(fn)`` runs ``fn(session)`` in one
    transaction in a thread, commits, and returns ``fn``'s result (rolled back if it
    raises)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_app_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        changes.install(self._sessions)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def call(self, fn: Callable[[Session], T]) -> T:
        with self.transaction() as session:
            return fn(session)

    async def run(self, fn: Callable[[Session], T]) -> T:
        return await asyncio.to_thread(self.call, fn)

    async def ping(self) -> None:
        await self.run(lambda session: session.execute(text("SELECT 1")))

    def dispose(self) -> None:
        self.engine.dispose()
