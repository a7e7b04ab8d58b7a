"""The live feed follows the database's change sequence, so it misses no change whatever
the clocks of the processes that made it, or however long a commit waited."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sqlalchemy.orm import Session

from zoneguard.app import store
from zoneguard.app.db.engine import Database
from zoneguard.app.db.migrate import upgrade
from zoneguard.app.feed import Change, ChangeFeed
from zoneguard.app.ids import now_ms
from zoneguard.app.rules import OrderStatus
from zoneguard.app.store import Event


def drain(queue: asyncio.Queue[Change | None]) -> list[tuple[str, str, str]]:
    found = []
    while not queue.empty():
        change = queue.get_nowait()
        assert change is not None
        kind, view = change
        found.append((kind, view["id"], view["status"]))
    return found


def create(order_id: str, at_ms: int) -> Any:
    def write(session: Session) -> None:
        store.create_order(session, order_id, origin="signal", at_ms=at_ms, symbol="BTCUSDT")

    return write


def fill(order_id: str, at_ms: int) -> Any:
    def write(session: Session) -> None:
        order = store.lock_order(session, order_id)
        assert order is not None
        store.record(session, order, Event("filled", OrderStatus.FILLED, "callback", at_ms))

    return write


@pytest.fixture
async def feed(database_url: str) -> Any:
    db = Database(database_url)
    await asyncio.to_thread(upgrade, db.engine)
    feed = ChangeFeed(db)  # not started: polled by hand below, never by its own task
    try:
        yield feed
    finally:
        await feed.stop()
        db.dispose()


async def test_a_change_stamped_by_a_skewed_clock_still_goes_out(feed: ChangeFeed) -> None:
    queue = feed.subscribe()
    now = now_ms()
    await feed.db.run(create("o-now", now))
    await feed.poll_once()
    assert drain(queue) == [("order", "o-now", "queued")]
    # A consumer process whose clock is a minute behind writes its changes.
    await feed.db.run(create("o-behind", now - 60_000))
    await feed.db.run(fill("o-now", now - 60_000))
    await feed.poll_once()
    assert sorted(drain(queue)) == [
        ("order", "o-behind", "queued"),
        ("order", "o-now", "filled"),
        ("position", "o-now", "open"),
    ]
    await feed.poll_once()
    assert drain(queue) == []  # each change goes out once


async def test_a_commit_that_waited_still_goes_out(feed: ChangeFeed) -> None:
    """A transaction whose time was taken ten seconds before it commits (it waited on a lock
    or a slow disk) still goes out; on PostgreSQL the feed even polls while it is open."""
    queue = feed.subscribe()
    started = now_ms()
    await feed.db.run(create("o-slow", started - 20_000))
    await feed.db.run(create("o-now", started))  # other news moved on meanwhile
    await feed.poll_once()
    assert len(drain(queue)) == 2
    go_on, written = threading.Event(), threading.Event()

    def slow(session: Session) -> None:
        fill("o-slow", started - 10_000)(session)
        session.flush()
        written.set()
        go_on.wait(10)

    committing = asyncio.ensure_future(feed.db.run(slow))
    try:
        assert await asyncio.to_thread(written.wait, 10)
        if feed.db.dialect == "postgresql":  # SQLite's single writer would make this wait
            assert await feed.poll_once() == 0  # not committed yet: nothing to send
    finally:
        go_on.set()
        await committing
    await feed.poll_once()
    assert sorted(drain(queue)) == [("order", "o-slow", "filled"), ("position", "o-slow", "open")]
