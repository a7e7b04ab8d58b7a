"""The bus on the database (db://): handler -> worker, retry with backoff, the failure
queue and its retry, leases that outlive a crashed consumer, SKIP LOCKED claims."""

from __future__ import annotations

import asyncio
import itertools
import time
from decimal import Decimal
from typing import Any

from app_harness import SIGNAL, AppStarter, FakeWorker, eventually
from sqlalchemy import select

from zoneguard.app.bus import table
from zoneguard.app.bus.db_transport import DbTransport
from zoneguard.app.db.engine import Database
from zoneguard.app.db.migrate import upgrade
from zoneguard.app.db.models import FailedMessage, QueuedMessage
from zoneguard.app.messages import PlaceOrderMessage


def a_message(order_id: str) -> PlaceOrderMessage:
    return PlaceOrderMessage(
        order_id=order_id,
        symbol="BTCUSDT",
        side="long",
        entry_zone_min=Decimal(1),
        entry_zone_max=Decimal(2),
        quantity=Decimal(1),
        leverage=1,
        timeout_seconds=60,
    )


async def order_of(app: Any, order_id: str) -> dict[str, Any]:
    status, body = await app.http.get(f"/api/orders/{order_id}")
    assert status == 200, body
    detail: dict[str, Any] = body
    return detail


async def test_the_consumer_sends_the_seed_payload_and_the_order_becomes_submitted(
    start_app: AppStarter, database_url: str, fake_worker: FakeWorker
) -> None:
    app = await start_app(database_url, ws_worker_base_url=fake_worker.url)
    _, body = await app.http.post("/api/signals", SIGNAL)
    order_id = body["id"]
    await eventually(lambda: fake_worker.bodies("/api/place-order"), what="place-order")
    (payload,) = fake_worker.bodies("/api/place-order")
    assert payload == {
        "id": order_id,
        "symbol": "BTCUSDT",
        "side": "long",
        "entry_zone_min": "65000",
        "entry_zone_max": "65500",
        "quantity": "0.01",
        "leverage": 10,
        "stop_loss": "64000",
        "take_profit": "68000",
        "timeout_seconds": 300,
        "callback_url": app.settings.app_base_url + "/api/orders/callback",
        "metadata": {"strategy": "high_conviction"},
    }

    async def submitted() -> bool:
        return bool((await order_of(app, order_id))["status"] == "submitted")

    await eventually(submitted, what="submitted")
    detail = await order_of(app, order_id)
    assert [t["event"] for t in detail["transitions"]] == ["queued", "submitted"]
    assert detail["transitions"][1]["source"] == "bus"

    async def acknowledged() -> bool:
        # The lifecycle commit comes first, the message's removal right after it.
        return bool(await app.runtime.db.run(table.pending_count) == 0)

    await eventually(acknowledged, what="the message acknowledged")


async def test_the_bearer_token_goes_to_the_worker(
    start_app: AppStarter, database_url: str, fake_worker: FakeWorker
) -> None:
    app = await start_app(database_url, ws_worker_base_url=fake_worker.url, api_token="t0ken-abc")
    await app.http.post("/api/signals", SIGNAL)
    await eventually(lambda: fake_worker.requests, what="a request")
    assert fake_worker.requests[0][2]["Authorization"] == "Bearer t0ken-abc"


async def test_a_4xx_from_the_worker_fails_the_order_without_retry(
    start_app: AppStarter, database_url: str, fake_worker: FakeWorker
) -> None:
    fake_worker.replies = [(422, {"ok": False, "error": "symbol: XYZUSDT is not traded"})]
    app = await start_app(database_url, ws_worker_base_url=fake_worker.url)
    _, body = await app.http.post("/api/signals", {**SIGNAL, "symbol": "XYZUSDT"})

    async def failed() -> dict[str, Any] | None:
        detail = await order_of(app, body["id"])
        return detail if detail["status"] == "failed" else None

    detail = await eventually(failed, what="failed")
    assert "symbol: XYZUSDT is not traded" in detail["error"]

    async def settled() -> bool:
        return bool(await app.runtime.db.run(table.pending_count) == 0)

    # The message is gone from the queue (acknowledged): no retry can follow. (Sleeping
    # 0.3 s "for a retry to have come" proved nothing when the machine was slow.)
    await eventually(settled, what="the message acknowledged")
    assert len(fake_worker.requests) == 1
    _, failed_list = await app.http.get("/api/messages/failed")
    assert failed_list["messages"] == []


async def test_5xx_is_retried_with_growing_delays_then_parked_then_retried_by_hand(
    start_app: AppStarter, database_url: str, fake_worker: FakeWorker
) -> None:
    fake_worker.replies = [(503, {"ok": False, "error": "worker is starting"})] * 5
    app = await start_app(database_url, ws_worker_base_url=fake_worker.url)
    _, body = await app.http.post("/api/signals", SIGNAL)
    order_id = body["id"]

    async def parked() -> list[dict[str, Any]]:
        _, listed = await app.http.get("/api/messages/failed")
        messages: list[dict[str, Any]] = listed["messages"]
        return messages

    (failed,) = await eventually(parked, timeout=10, what="the failure queue")
    assert failed["type"] == "PlaceOrderMessage"
    assert failed["attempts"] == 5
    assert "503" in failed["last_error"]
    assert failed["body"]["order_id"] == order_id
    times = fake_worker.times
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 5  # one request per attempt, no more
    # Waits of 0.05, 0.1, 0.2, 0.4 s: each gap is at least its wait (a retry is due that
    # long after the failure, which follows the request). Only lower bounds: a busy
    # machine stretches any gap, so comparing one gap with another was a race.
    for gap, wait_s in zip(gaps, (0.05, 0.1, 0.2, 0.4), strict=True):
        assert gap >= wait_s * 0.95, gaps
    detail = await order_of(app, order_id)
    assert detail["status"] == "queued"
    assert "not delivered to the worker" in detail["error"]
    assert detail["transitions"][-1]["event"] == "undelivered"

    status, answer = await app.http.post(f"/api/messages/failed/{failed['id']}/retry")
    assert status == 202, answer

    async def submitted() -> bool:
        return bool((await order_of(app, order_id))["status"] == "submitted")

    await eventually(submitted, what="submitted after the manual retry")
    assert (await parked()) == []
    status, answer = await app.http.post(f"/api/messages/failed/{failed['id']}/retry")
    assert status == 404
    assert answer["fields"][0]["field"] == "failed_id"


async def test_an_unreachable_worker_is_retried_until_it_comes_up(
    start_app: AppStarter, database_url: str, fake_worker: FakeWorker
) -> None:
    await fake_worker.stop()
    app = await start_app(
        database_url, ws_worker_base_url=fake_worker.url, bus_max_attempts=50, bus_retry_max_s=0.2
    )
    _, body = await app.http.post("/api/signals", SIGNAL)
    await asyncio.sleep(0.5)
    await fake_worker.start()
    await eventually(lambda: fake_worker.bodies("/api/place-order"), what="delivery")

    async def submitted() -> bool:
        return bool((await order_of(app, body["id"]))["status"] == "submitted")

    await eventually(submitted, what="submitted")


async def test_unknown_and_malformed_messages_go_straight_to_the_failure_queue(
    start_app: AppStarter, database_url: str, fake_worker: FakeWorker
) -> None:
    app = await start_app(database_url, ws_worker_base_url=fake_worker.url)
    envelope_unknown = table.Envelope("u-1", "NoSuchMessage", {"x": 1}, 0, 1)
    envelope_bad = table.Envelope("u-2", PlaceOrderMessage.TYPE, {"order_id": 5}, 0, 1)

    def put(session: Any) -> None:
        table.enqueue_envelope(session, envelope_unknown, available_ms=0)
        table.enqueue_envelope(session, envelope_bad, available_ms=0)

    await app.runtime.db.run(put)
    app.runtime.enqueued()

    async def parked() -> list[dict[str, Any]]:
        _, listed = await app.http.get("/api/messages/failed")
        messages: list[dict[str, Any]] = listed["messages"]
        return messages if len(messages) == 2 else []

    messages = await eventually(parked, what="both parked")
    errors = {m["message_uuid"]: m["last_error"] for m in messages}
    assert "no handler" in errors["u-1"]
    assert "malformed" in errors["u-2"]
    assert all(m["attempts"] == 1 for m in messages)
    assert fake_worker.requests == []


async def test_a_crashed_consumers_claim_expires_and_the_message_comes_back(
    tmp_path: Any, database_url: str
) -> None:
    db = Database(database_url)
    try:
        await asyncio.to_thread(upgrade, db.engine)
        message = a_message("order-x")
        await db.run(lambda s: table.enqueue(s, message, now_ms=0))
        crashed = DbTransport(db, poll_interval_s=0.05, lease_s=0.5)
        await crashed.start()
        # Timed from before the claim: the lease runs 0.5 s from it, so the message
        # cannot come back sooner, however long stopping and starting took meanwhile.
        started = time.monotonic()
        first = await asyncio.wait_for(crashed.receive(), 10)
        await crashed.stop()  # no ack, no release, no renewal: a dead process
        survivor = DbTransport(db, poll_interval_s=0.05, lease_s=0.5)
        await survivor.start()
        second = await asyncio.wait_for(survivor.receive(), 10)
        waited = time.monotonic() - started
        assert second.envelope.message_uuid == first.envelope.message_uuid
        assert waited >= 0.45  # not before the lease ran out (clocks read in whole ms)
        await second.ack()
        await survivor.stop()
        assert await db.run(table.pending_count) == 0
    finally:
        db.dispose()


async def test_a_live_consumer_keeps_its_claim_by_renewing_it(
    tmp_path: Any, database_url: str
) -> None:
    db = Database(database_url)
    try:
        await asyncio.to_thread(upgrade, db.engine)
        message = a_message("order-y")
        await db.run(lambda s: table.enqueue(s, message, now_ms=0))
        # A 1 s lease renewed every third of it: a renewal may be 0.6 s late on a busy
        # machine before the claim lapses (a 0.3 s lease lapsed whenever one renewal, a
        # database write in a thread, came 0.2 s late).
        busy = DbTransport(db, poll_interval_s=0.05, lease_s=1.0)
        other = DbTransport(db, poll_interval_s=0.05, lease_s=1.0)
        await busy.start()
        await other.start()
        held = await asyncio.wait_for(busy.receive(), 10)
        stolen = asyncio.ensure_future(other.receive())
        await asyncio.sleep(3.0)  # three leases long
        assert not stolen.done()
        await held.ack()
        stolen.cancel()
        await asyncio.gather(stolen, return_exceptions=True)
        await busy.stop()
        await other.stop()
    finally:
        db.dispose()


async def test_concurrent_claims_never_take_a_message_twice(database_url: str) -> None:
    dbs = [Database(database_url) for _ in range(3)]
    try:
        await asyncio.to_thread(upgrade, dbs[0].engine)
        message = a_message("order-z")

        def fill(session: Any) -> None:
            for _ in range(60):
                table.enqueue(session, message, now_ms=0)

        await dbs[0].run(fill)

        async def drain(db: Database, owner: str) -> list[int]:
            mine: list[int] = []
            while True:
                claimed = await db.run(
                    lambda s: table.claim_due(
                        s, now_ms=10**13, lease_ms=60_000, owner=owner, limit=3
                    )
                )
                if not claimed:
                    return mine
                mine.extend(c.row_id for c in claimed)

        results = await asyncio.gather(*(drain(dbs[i % 3], f"c{i}") for i in range(6)))
        everything = [row for part in results for row in part]
        assert len(everything) == 60
        assert len(set(everything)) == 60
        owners = await dbs[0].run(
            lambda s: {m.claimed_by for m in s.scalars(select(QueuedMessage)).all()}
        )
        assert len(owners) >= 2
        assert await dbs[0].run(lambda s: s.scalars(select(FailedMessage)).all()) == []
    finally:
        for db in dbs:
            db.dispose()


async def test_a_refused_token_parks_the_message_and_leaves_the_order_alone(
    start_app: AppStarter, database_url: str, fake_worker: FakeWorker
) -> None:
    fake_worker.replies = [(401, {"ok": False, "error": "missing or bad bearer token"})] * 3
    app = await start_app(database_url, ws_worker_base_url=fake_worker.url, bus_max_attempts=3)
    _, body = await app.http.post("/api/signals", SIGNAL)
    order_id = body["id"]

    async def parked() -> list[dict[str, Any]]:
        _, listed = await app.http.get("/api/messages/failed")
        messages: list[dict[str, Any]] = listed["messages"]
        return messages

    (failed,) = await eventually(parked, timeout=10, what="the failure queue")
    assert "401" in failed["last_error"]
    assert "ZONEGUARD_API_TOKEN" in failed["last_error"]
    detail = await order_of(app, order_id)
    assert detail["status"] == "queued"  # not failed: the order itself was never judged
    assert "not delivered to the worker" in detail["error"]
    # The operator fixes the token, then retries the message by hand.
    status, _ = await app.http.post(f"/api/messages/failed/{failed['id']}/retry")
    assert status == 202

    async def submitted() -> bool:
        return bool((await order_of(app, order_id))["status"] == "submitted")

    await eventually(submitted, what="submitted after the fix")


async def test_a_late_ack_from_a_lapsed_claim_does_not_settle_the_reclaimed_message(
    database_url: str,
) -> None:
    db = Database(database_url)
    try:
        await asyncio.to_thread(upgrade, db.engine)
        await db.run(lambda s: table.enqueue(s, a_message("order-late"), now_ms=0))
        # Not started: no renewals, as when a process stalls longer than its lease.
        stalled = DbTransport(db, poll_interval_s=0.05, lease_s=0.2)
        late = await asyncio.wait_for(stalled.receive(), 10)
        await asyncio.sleep(0.3)
        fresh = DbTransport(db, poll_interval_s=0.05, lease_s=30)
        current = await asyncio.wait_for(fresh.receive(), 10)
        assert current.envelope.message_uuid == late.envelope.message_uuid
        await late.ack()
        await late.retry(0.0, "late")
        await late.fail(5, "late")
        await late.release()
        rows = await db.run(lambda s: s.scalars(select(QueuedMessage)).all())
        assert [(r.claimed_by, r.attempts, r.last_error) for r in rows] == [(fresh.owner, 0, None)]
        assert await db.run(lambda s: s.scalars(select(FailedMessage)).all()) == []
        await current.ack()
        assert await db.run(table.pending_count) == 0
    finally:
        db.dispose()


async def test_message_ids_are_never_reused(database_url: str) -> None:
    db = Database(database_url)
    try:
        await asyncio.to_thread(upgrade, db.engine)
        consumer = DbTransport(db, poll_interval_s=0.05)
        first_id = await db.run(lambda s: table.enqueue(s, a_message("o-1"), now_ms=0).id)
        await (await asyncio.wait_for(consumer.receive(), 10)).ack()
        second_id = await db.run(lambda s: table.enqueue(s, a_message("o-2"), now_ms=0).id)
        assert second_id > first_id  # SQLite without AUTOINCREMENT hands out max(id) + 1
    finally:
        db.dispose()
