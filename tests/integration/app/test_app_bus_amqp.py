"""The bus on RabbitMQ (amqp://): the outbox relay publishes committed rows only, as
persistent messages; the consumer acks after handling; retries and the failure queue work
the same as on the database. Skipped unless ZONEGUARD_TEST_AMQP_URL is set."""

from __future__ import annotations

import itertools
from typing import Any

import aio_pika
import pytest
from app_harness import SIGNAL, AppStarter, FakeWorker, eventually, sqlite_url

from zoneguard.app.bus import table
from zoneguard.app.bus.amqp_transport import decode_envelope, parse_amqp_dsn


async def status_of(app: Any, order_id: str) -> str:
    _, body = await app.http.get(f"/api/orders/{order_id}")
    return str(body["status"])


async def test_a_signal_travels_through_rabbitmq_to_the_worker(
    start_app: AppStarter, tmp_path: Any, amqp_dsn: str, fake_worker: FakeWorker
) -> None:
    app = await start_app(
        sqlite_url(tmp_path), messenger_transport_dsn=amqp_dsn, ws_worker_base_url=fake_worker.url
    )
    _, health = await app.http.get("/health")
    assert health["transport"] == "amqp"
    _, body = await app.http.post("/api/signals", SIGNAL)
    order_id = body["id"]
    await eventually(lambda: fake_worker.bodies("/api/place-order"), what="delivery")
    assert fake_worker.bodies("/api/place-order")[0]["id"] == order_id

    async def submitted() -> bool:
        return await status_of(app, order_id) == "submitted"

    await eventually(submitted, what="submitted")

    async def relayed() -> bool:
        # Deleted once RabbitMQ confirmed it, which may come after the handler's commit.
        return bool(await app.runtime.db.run(table.pending_count) == 0)

    await eventually(relayed, what="the outbox row deleted")


async def test_only_committed_signals_are_published_and_they_persist(
    start_app: AppStarter, tmp_path: Any, amqp_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False, messenger_transport_dsn=amqp_dsn)
    ids = [(await app.http.post("/api/signals", SIGNAL))[1]["id"] for _ in range(2)]

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("no")

    monkeypatch.setattr(table, "enqueue", broken)
    assert (await app.http.post("/api/signals", SIGNAL))[0] == 500
    monkeypatch.undo()
    await eventually(lambda: app.runtime.relay.published == 2, what="two publications")
    target = parse_amqp_dsn(amqp_dsn)
    connection = await aio_pika.connect(target.url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(target.queue, durable=True, passive=True)
        seen = []
        while (message := await queue.get(fail=False, no_ack=False)) is not None:
            assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
            envelope = decode_envelope(message.body, message.message_id)
            assert envelope.message_type == "PlaceOrderMessage"
            seen.append(envelope.body["order_id"])
            await message.ack()
    assert sorted(seen) == sorted(ids)


async def test_failures_are_retried_then_parked_and_retried_by_hand(
    start_app: AppStarter, tmp_path: Any, amqp_dsn: str, fake_worker: FakeWorker
) -> None:
    fake_worker.replies = [(500, {"error": "down"})] * 5
    app = await start_app(
        sqlite_url(tmp_path), messenger_transport_dsn=amqp_dsn, ws_worker_base_url=fake_worker.url
    )
    _, body = await app.http.post("/api/signals", SIGNAL)
    order_id = body["id"]

    async def parked() -> list[dict[str, Any]]:
        _, listed = await app.http.get("/api/messages/failed")
        messages: list[dict[str, Any]] = listed["messages"]
        return messages

    (failed,) = await eventually(parked, timeout=10, what="the failure queue")
    assert failed["attempts"] == 5
    assert len(fake_worker.requests) == 5
    gaps = [b - a for a, b in itertools.pairwise(fake_worker.times)]
    assert gaps[3] >= 0.38  # the fourth wait is 0.4 s
    assert await status_of(app, order_id) == "queued"
    assert (await app.http.post(f"/api/messages/failed/{failed['id']}/retry"))[0] == 202

    async def submitted() -> bool:
        return await status_of(app, order_id) == "submitted"

    await eventually(submitted, what="submitted after the manual retry")
