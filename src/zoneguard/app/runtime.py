"""The app as one object: database, worker client, bus (transport, relay, consumer), live
feed. ``zoneguard app`` serves HTTP on top of it; ``zoneguard app consume`` runs only its
consumer."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from zoneguard.app.bus.consumer import Consumer, MessageHandler
from zoneguard.app.bus.db_transport import DbTransport
from zoneguard.app.bus.retry import RetryPolicy
from zoneguard.app.bus.transport import Transport
from zoneguard.app.callback_probe import new_instance_id
from zoneguard.app.contracts import ContractFacts
from zoneguard.app.db.engine import Database
from zoneguard.app.db.migrate import upgrade
from zoneguard.app.feed import ChangeFeed
from zoneguard.app.handlers import MonitorPositionMessageHandler, PlaceOrderMessageHandler
from zoneguard.app.messages import MonitorPositionMessage, PlaceOrderMessage
from zoneguard.app.settings import AppSettings
from zoneguard.app.worker_client import WsWorkerClient

if TYPE_CHECKING:
    from zoneguard.app.bus.amqp_transport import AmqpLink, OutboxRelay

log = logging.getLogger(__name__)

CONTRACT_TIMEOUT_S = 2.0
"""Longest a signal waits for the worker's contract facts before it is accepted unchecked."""


class AppRuntime:
    def __init__(
        self, settings: AppSettings, *, consume: bool = True, feed_interval_s: float = 1.0
    ) -> None:
        self.settings = settings
        self.instance_id = new_instance_id()
        """Shown by ``GET /health``: tells this process from another app at an address."""
        self.db = Database(settings.database_url)
        self.client = WsWorkerClient(
            settings.ws_worker_base_url,
            api_token=settings.token(),
            timeout_s=settings.worker_timeout_s,
            attempts=settings.worker_attempts,
        )
        contract_timeout_s = min(CONTRACT_TIMEOUT_S, settings.worker_timeout_s)
        self.contracts = ContractFacts(
            lambda symbol: self.client.contract(symbol, timeout_s=contract_timeout_s)
        )
        self.feed = ChangeFeed(self.db, interval_s=feed_interval_s)
        self.policy = RetryPolicy(
            settings.bus_max_attempts, settings.bus_retry_base_s, settings.bus_retry_max_s
        )
        self.link: AmqpLink | None = None
        self.relay: OutboxRelay | None = None
        self.transport: Transport | None = None
        if settings.uses_amqp:
            # Imported here: aio-pika is only loaded by the processes that use RabbitMQ.
            from zoneguard.app.bus.amqp_transport import (
                AmqpLink,
                AmqpTransport,
                OutboxRelay,
                parse_amqp_dsn,
            )

            self.link = AmqpLink(parse_amqp_dsn(settings.messenger_transport_dsn))
            self.relay = OutboxRelay(
                self.db,
                self.link,
                poll_interval_s=settings.bus_poll_interval_s,
                lease_s=settings.bus_lease_s,
            )
            if consume:
                self.transport = AmqpTransport(
                    self.db, self.link, self.relay, prefetch=settings.bus_concurrency
                )
        elif consume:
            self.transport = DbTransport(
                self.db,
                poll_interval_s=settings.bus_poll_interval_s,
                lease_s=settings.bus_lease_s,
            )
        self.consumer: Consumer | None = None
        if self.transport is not None:
            url = settings.callback_url
            handlers: dict[str, MessageHandler] = {
                PlaceOrderMessage.TYPE: PlaceOrderMessageHandler(
                    self.client, self.db, url, self.changed
                ),
                MonitorPositionMessage.TYPE: MonitorPositionMessageHandler(
                    self.client, self.db, url, self.changed
                ),
            }
            self.consumer = Consumer(
                self.transport, handlers, self.policy, concurrency=settings.bus_concurrency
            )
        self._started = False

    @property
    def transport_name(self) -> str:
        return "amqp" if self.settings.uses_amqp else "db"

    def changed(self) -> None:
        """An order or position changed (committed): wake the live feed."""
        self.feed.notify()

    def enqueued(self) -> None:
        """A bus message was committed: wake whoever moves it on in this process."""
        if self.relay is not None:
            self.relay.notify()
        elif self.transport is not None:
            self.transport.notify()

    async def start(self, *, migrate: bool = True) -> None:
        if migrate:
            revision = await asyncio.to_thread(upgrade, self.db.engine)
            log.info("database at revision %s", revision)
        await self.feed.start()
        if self.link is not None:
            await self.link.open()
        if self.relay is not None:
            await self.relay.start()
        if self.transport is not None:
            await self.transport.start()
        if self.consumer is not None:
            self.consumer.start()
        self._started = True

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
        if self.transport is not None:
            await self.transport.stop()
        if self.relay is not None:
            await self.relay.stop()
        if self.link is not None:
            await self.link.close()
        await self.feed.stop()
        await self.client.close()
        self.db.dispose()
        self._started = False
