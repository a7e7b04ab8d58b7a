"""A real worker for the schema fuzzer: the simulator, a callback receiver and the worker's
control API (uvicorn, bearer token on), all on loopback, served by an event loop in a
background thread so schemathesis's synchronous client can call it like any HTTP server.

A uniquely named module (not conftest) so the app's fuzzing module keeps its own."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from aiohttp import web

from zoneguard.exchange.bitmart.adapter import BitMartExchange
from zoneguard.exchange.bitmart.settings import BitMartSettings
from zoneguard.sim.config import SimConfig
from zoneguard.sim.server import SimServer
from zoneguard.worker.config import OrdersConfig, WorkerSettings
from zoneguard.worker.http import create_app
from zoneguard.worker.service import WorkerService

T = TypeVar("T")

TOKEN = "fuzz-token-7d1e"
DEFAULT_EXAMPLES = 15
"""Examples per route in `make test` (the whole module stays well under a minute)."""


def fuzz_examples() -> int:
    """``ZONEGUARD_FUZZ_EXAMPLES`` (``make fuzz`` sets many), else :data:`DEFAULT_EXAMPLES`."""
    raw = os.environ.get("ZONEGUARD_FUZZ_EXAMPLES", "").strip()
    return int(raw) if raw else DEFAULT_EXAMPLES


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class WorkerUnderFuzz:
    """Start with :meth:`start`, stop with :meth:`stop`; ``url`` is the control API."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.port = _free_port()
        self.callbacks: list[bytes] = []
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fuzzed-worker")
        self._sim: SimServer | None = None
        self._receiver: web.AppRunner | None = None
        self._service: WorkerService | None = None
        self._server: uvicorn.Server | None = None
        self._served: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, work: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run ``work`` on the worker's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def start(self) -> None:
        self._thread.start()
        self.run(self._start())

    def stop(self) -> None:
        try:
            self.run(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(30)
            self.loop.close()

    @property
    def service(self) -> WorkerService:
        assert self._service is not None
        return self._service

    async def _start(self) -> None:
        sim = self._sim = SimServer(
            SimConfig(port=0, prices={"BTCUSDT": Decimal("66000"), "ETHUSDT": Decimal("3000")})
        )
        await sim.start()
        receiver_port = _free_port()
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._receive)
        self._receiver = web.AppRunner(app)
        await self._receiver.setup()
        await web.TCPSite(self._receiver, "127.0.0.1", receiver_port).start()
        exchange = BitMartExchange(
            BitMartSettings(
                api_key=sim.config.api_key,
                api_secret=sim.config.api_secret,
                api_memo=sim.config.api_memo,
                rest_url=sim.base_url,
                ws_public_url=sim.ws_public_url,
                ws_private_url=sim.ws_private_url,
                rest_timeout_s=5.0,
            )
        )
        self._service = WorkerService(
            exchange,
            OrdersConfig(),
            WorkerSettings(app_base_url=f"http://127.0.0.1:{receiver_port}"),
            self.var_dir,
        )
        await self._service.start()
        config = uvicorn.Config(
            create_app(self._service, TOKEN),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        server = self._server = uvicorn.Server(config)
        self._served = asyncio.get_running_loop().create_task(server.serve())
        deadline = time.monotonic() + 20
        while not server.started:
            if self._served.done() or time.monotonic() > deadline:
                raise AssertionError("the worker's control API did not start")
            await asyncio.sleep(0.01)

    async def _receive(self, request: web.Request) -> web.Response:
        self.callbacks.append(await request.read())
        return web.json_response({"status": "ok"})

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._served is not None:
            await self._served
        if self._service is not None:
            await self._service.stop()
        if self._receiver is not None:
            await self._receiver.cleanup()
        if self._sim is not None:
            await self._sim.stop()
