"""``amqp://``: RabbitMQ through aio-pika (a durable queue, persistent messages, publisher
confirms, manual acks).

Messages are never published from inside a request: they are written to the
``bus_messages`` table in the same transaction as the change that causes them (the
outbox), and :class:`OutboxRelay` publishes each row after it committed and deletes it once
RabbitMQ confirmed it. So a message is never lost (a crash before the confirm publishes
it again: at-least-once) and never sent for a rolled-back signal.

Retries go back through the same table with a due time (RabbitMQ has no delay of its own
without plugins); a message is acked only after its retry or failure row committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aio_pika
import orjson
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from sqlalchemy.orm import Session

from zoneguard.app.bus import table
from zoneguard.app.bus.db_transport import DEFAULT_LEASE_S
from zoneguard.app.bus.table import Claimed, Envelope
from zoneguard.app.bus.transport import Waker
from zoneguard.app.db.engine import Database
from zoneguard.app.ids import now_ms

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "zoneguard.messages"
RELAY_BATCH = 50


@dataclass(frozen=True, slots=True)
class AmqpTarget:
    url: str
    queue: str


def parse_amqp_dsn(dsn: str) -> AmqpTarget:
    """``amqp://user:pass@host:5672/vhost?queue=NAME``: ``queue`` is ours (default
    ``zoneguard.messages``), every other part goes to aio-pika as is."""
    parts = urlsplit(dsn)
    query = parse_qsl(parts.query, keep_blank_values=True)
    queue = next((value for key, value in query if key == "queue"), "") or DEFAULT_QUEUE
    rest = urlencode([(key, value) for key, value in query if key != "queue"])
    return AmqpTarget(urlunsplit(parts._replace(query=rest)), queue)


def encode_envelope(envelope: Envelope) -> bytes:
    return orjson.dumps(
        {
            "message_uuid": envelope.message_uuid,
            "type": envelope.message_type,
            "body": envelope.body,
            "attempts": envelope.attempts,
            "created_ms": envelope.created_ms,
        }
    )


def decode_envelope(raw: bytes, message_id: str | None) -> Envelope:
    """The envelope, or one no handler knows (type ``<unreadable>``) that the consumer
    will park in the failure queue with the raw text for an operator."""
    try:
        data: Any = orjson.loads(raw)
        return Envelope(
            str(data["message_uuid"]),
            str(data["type"]),
            dict(data["body"]),
            int(data["attempts"]),
            int(data["created_ms"]),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        text = raw[:4000].decode("utf-8", "replace")
        return Envelope(message_id or str(uuid.uuid4()), "<unreadable>", {"raw": text}, 0, now_ms())


class AmqpLink:
    """One robust connection (it reconnects by itself) and the durable queue."""

    def __init__(self, target: AmqpTarget) -> None:
        self.target = target
        self.connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractChannel | None = None

    async def open(self) -> None:
        if self.connection is None:
            self.connection = await aio_pika.connect_robust(self.target.url)
            self._publish_channel = await self.connection.channel(publisher_confirms=True)
            await self._publish_channel.declare_queue(self.target.queue, durable=True)

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection = None
            self._publish_channel = None

    async def publish(self, envelope: Envelope) -> None:
        """Returns once RabbitMQ confirmed the persistent message."""
        assert self._publish_channel is not None, "open() first"
        message = aio_pika.Message(
            encode_envelope(envelope),
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            content_type="application/json",
            message_id=envelope.message_uuid,
            type=envelope.message_type,
        )
        await self._publish_channel.default_exchange.publish(message, routing_key=self.target.queue)

    async def consume_channel(self, prefetch: int) -> tuple[AbstractChannel, AbstractQueue]:
        assert self.connection is not None, "open() first"
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        queue = await channel.declare_queue(self.target.queue, durable=True)
        return channel, queue


class OutboxRelay:
    """Publishes committed ``bus_messages`` rows to RabbitMQ, then deletes them."""

    def __init__(
        self,
        db: Database,
        link: AmqpLink,
        *,
        poll_interval_s: float = 1.0,
        lease_s: float = DEFAULT_LEASE_S,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.db = db
        self.link = link
        self.owner = f"relay-{uuid.uuid4().hex[:12]}"
        self.clock = clock
        self._poll_interval_s = poll_interval_s
        self._lease_ms = int(lease_s * 1000)
        self._waker = Waker()
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    def notify(self) -> None:
        self._waker.notify()

    async def start(self) -> None:
        self._waker.bind()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("bus relay: publishing failed; retrying")
                await asyncio.sleep(self._poll_interval_s)
                continue
            if sent:
                continue  # there may be more
            next_due = await self.db.run(table.next_due_ms)
            wait_s = self._poll_interval_s
            if next_due is not None:
                wait_s = min(wait_s, max(0.0, (next_due - self.clock()) / 1000))
            await self._waker.wait(wait_s)

    async def relay_once(self) -> int:
        """Publish what is due; returns how many went out."""
        now, lease, owner = self.clock(), self._lease_ms, self.owner
        batch: list[Claimed] = await self.db.run(
            lambda s: table.claim_due(s, now_ms=now, lease_ms=lease, owner=owner, limit=RELAY_BATCH)
        )
        done: list[Claimed] = []
        try:
            for item in batch:
                await self.link.publish(item.envelope)
                done.append(item)
        finally:
            left = [item for item in batch if item not in done]

            def settle(session: Session) -> None:
                for item in done:
                    if not table.remove(session, item):
                        log.warning(
                            "bus relay: %s was published after its claim lapsed; another "
                            "relay may publish it again (handlers are idempotent)",
                            item.envelope.message_uuid,
                        )
                for item in left:
                    table.release(session, item)

            if batch:
                await asyncio.shield(self.db.run(settle))
        self.published += len(done)
        return len(done)


class AmqpDelivery:
    def __init__(self, transport: AmqpTransport, message: AbstractIncomingMessage) -> None:
        self._transport = transport
        self._message = message
        self._envelope = decode_envelope(message.body, message.message_id)

    @property
    def envelope(self) -> Envelope:
        return self._envelope

    async def ack(self) -> None:
        await self._message.ack()

    async def retry(self, delay_s: float, error: str) -> None:
        env = self._envelope
        again = Envelope(
            env.message_uuid, env.message_type, env.body, env.attempts + 1, env.created_ms
        )
        at = self._transport.clock() + int(delay_s * 1000)

        def schedule(session: Session) -> None:
            row = table.enqueue_envelope(session, again, available_ms=at)
            row.last_error = error[: table.MAX_ERROR_LENGTH]

        await self._transport.db.run(schedule)
        self._transport.relay.notify()
        await self._message.ack()

    async def fail(self, attempts: int, error: str) -> None:
        env, now = self._envelope, self._transport.clock()
        await self._transport.db.run(
            lambda s: table.add_failed(s, env, attempts=attempts, error=error, now_ms=now)
        )
        await self._message.ack()

    async def release(self) -> None:
        await self._message.nack(requeue=True)


class AmqpTransport:
    name = "amqp"

    def __init__(
        self,
        db: Database,
        link: AmqpLink,
        relay: OutboxRelay,
        *,
        prefetch: int = 4,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.db = db
        self.link = link
        self.relay = relay
        self.clock = clock
        self._prefetch = prefetch
        self._inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._channel: AbstractChannel | None = None

    async def start(self) -> None:
        await self.link.open()
        self._channel, queue = await self.link.consume_channel(self._prefetch)
        await queue.consume(self._inbox.put, no_ack=False)

    async def stop(self) -> None:
        if self._channel is not None:
            with contextlib.suppress(Exception):
                await self._channel.close()  # unacked messages go back to the queue
            self._channel = None

    def notify(self) -> None:
        self.relay.notify()

    async def receive(self) -> AmqpDelivery:
        return AmqpDelivery(self, await self._inbox.get())
