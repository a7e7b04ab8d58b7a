"""Simulator + worker + trading app on loopback, for the dashboard test: the app runs
in-process under uvicorn exactly as ``zoneguard app`` builds it (runtime, bus consumer,
live feed), with its database and logs in the test's temporary folder."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import uvicorn
from dashboard_history import history_rows, seed_price_history
from e2e_harness import InProcessWorker, Receiver, eventually, free_port, sim_config

from zoneguard.app.logs import setup_orders_logging, shutdown_orders_logging
from zoneguard.app.runtime import AppRuntime
from zoneguard.app.server import uvicorn_server
from zoneguard.app.settings import AppSettings
from zoneguard.sim.server import SimServer
from zoneguard.worker.config import OrdersConfig
from zoneguard.worker.logs import setup_worker_logging, shutdown_worker_logging

CHART_SYMBOL = "BTCUSDT"
HISTORY_BARS = 90
APP_TOKEN = "dashboard-t0ken-7"
"""The app's ZONEGUARD_API_TOKEN: the page must ask for it before anything shows."""


class InProcessApp:
    """``zoneguard app`` (HTTP + bus consumer + live feed) inside the test's event loop."""

    def __init__(self, worker_url: str, var_dir: Path) -> None:
        self.port = free_port()
        var_dir.mkdir(parents=True, exist_ok=True)
        self.settings = AppSettings(
            database_url=f"sqlite:///{var_dir / 'app.db'}",
            messenger_transport_dsn="db://",
            ws_worker_base_url=worker_url,
            app_base_url=self.url,
            var_dir=var_dir,
            bus_poll_interval_s=0.2,
            api_token=APP_TOKEN,
        )
        self.runtime = AppRuntime(self.settings, consume=True)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        setup_orders_logging(self.settings.var_dir)
        await self.runtime.start()
        self._server = uvicorn_server(self.runtime, "127.0.0.1", self.port)
        self._task = asyncio.get_running_loop().create_task(self._server.serve())
        await eventually(lambda: self._server is not None and self._server.started, 10, "app")

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            await self._task
        await self.runtime.stop()
        shutdown_orders_logging()


class DashboardStack:
    """Everything the dashboard needs, torn down in reverse order by :meth:`close`."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.sim: SimServer | None = None
        self.receiver = Receiver()  # the worker's default callback target; orders name the app
        self.worker: InProcessWorker | None = None
        self.app: InProcessApp | None = None
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        prices = {CHART_SYMBOL: Decimal("66000"), "ETHUSDT": Decimal("3050")}
        self.sim = SimServer(sim_config(prices=prices))
        await self.sim.start()
        seed_price_history(self.sim, CHART_SYMBOL, history_rows(HISTORY_BARS))
        await self.receiver.start()
        worker_dir = self.tmp_path / "worker"
        worker_dir.mkdir()
        setup_worker_logging(worker_dir)
        self.worker = InProcessWorker(self.sim, self.receiver, worker_dir, OrdersConfig())
        await self.worker.start()
        self.app = InProcessApp(self.worker.url, self.tmp_path / "app")
        await self.app.start()
        self.session = aiohttp.ClientSession()

    @property
    def app_url(self) -> str:
        assert self.app is not None
        return self.app.url

    async def price(self, symbol: str, *path: str) -> None:
        """Move the simulator's price through ``path`` (each step a trade and a push)."""
        assert self.sim is not None and self.session is not None
        for price in path:
            body = {"symbol": symbol, "price": price}
            async with self.session.post(self.sim.base_url + "/_sim/price", json=body) as reply:
                assert reply.status == 200, await reply.text()
            await asyncio.sleep(0.05)

    async def app_get(self, path: str) -> Any:
        assert self.session is not None
        headers = {"Authorization": f"Bearer {APP_TOKEN}"}
        async with self.session.get(self.app_url + path, headers=headers) as reply:
            assert reply.status == 200, await reply.text()
            return await reply.json()

    async def app_post(self, path: str, body: Any) -> Any:
        assert self.session is not None
        headers = {"Authorization": f"Bearer {APP_TOKEN}"}
        async with self.session.post(self.app_url + path, json=body, headers=headers) as reply:
            assert reply.status in (200, 201), await reply.text()
            return await reply.json()

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.app is not None:
            await self.app.stop()
        if self.worker is not None:
            await self.worker.stop()
        await self.receiver.stop()
        if self.sim is not None:
            await self.sim.stop()
        shutdown_worker_logging()
