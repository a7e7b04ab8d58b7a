"""Fixtures for the end-to-end tests (see e2e_harness)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from e2e_harness import Client, InProcessWorker, Receiver, eventually, sim_config

from zoneguard.sim.server import SimServer
from zoneguard.worker.config import OrdersConfig
from zoneguard.worker.logs import setup_worker_logging, shutdown_worker_logging


class Stack:
    """Sim + receiver + in-process worker + client, torn down in reverse order."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.sim: SimServer | None = None
        self.receiver = Receiver()
        self.worker: InProcessWorker | None = None
        self.session: aiohttp.ClientSession | None = None

    async def start(
        self, *, orders: dict[str, Any] | None = None, sim: dict[str, Any] | None = None,
        api_token: str | None = None, **settings: Any,
    ) -> Client:
        self.sim = SimServer(sim_config(**(sim or {})))
        await self.sim.start()
        await self.receiver.start()
        setup_worker_logging(self.tmp_path)
        config = OrdersConfig.model_validate({"orders": orders or {}})
        self.worker = InProcessWorker(self.sim, self.receiver, self.tmp_path, config, **settings)
        await self.worker.start(api_token=api_token)
        self.session = aiohttp.ClientSession()
        headers = {"Authorization": f"Bearer {api_token}"} if api_token else None
        return Client(self.session, self.sim, self.worker.url, headers)

    async def seen(self, symbol: str, price: str | int | float, timeout: float = 5.0) -> None:
        """Wait until the worker has handled a price update at ``price``. Its guard and
        entry checks run in the same synchronous handler that records the quote, so after
        this every decision that price could cause has been taken."""
        assert self.worker is not None
        markets = self.worker.service.markets
        wanted = Decimal(str(price))

        def handled() -> bool:
            quote = markets.quote(symbol)
            return quote is not None and quote.last == wanted

        await eventually(handled, timeout, f"the worker to see {symbol} at {price}")

    @property
    def app_log(self) -> Path:
        """The worker's ``var/log/app.log`` (var dir = the test's tmp_path)."""
        return self.tmp_path / "log" / "app.log"

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.worker is not None:
            await self.worker.stop()
        await self.receiver.stop()
        if self.sim is not None:
            await self.sim.stop()
        shutdown_worker_logging()


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    built = Stack(tmp_path)
    try:
        yield built
    finally:
        await built.close()
