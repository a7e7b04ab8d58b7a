"""The simulator process: one aiohttp port for REST, both websockets and ``/_sim/``.

aiohttp because the signature check needs the raw request body and the websockets must
share the REST port, as on BitMart's own hosts (well, nearly: BitMart splits hosts).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from decimal import Decimal
from types import TracebackType

from aiohttp import web

from zoneguard.eventloop import run
from zoneguard.sim.binance.rest import BinanceRest
from zoneguard.sim.binance.ws import BinanceHub
from zoneguard.sim.config import SimConfig
from zoneguard.sim.control import ControlApi
from zoneguard.sim.engine import Engine
from zoneguard.sim.replay import KlinePricePath, ReplayRunner
from zoneguard.sim.rest import RestApi
from zoneguard.sim.state import SimState

SHUTDOWN_TIMEOUT_S = 2.0
CANCEL_AFTER_TICK_S = 0.1
"""How often expired ``cancel-all-after`` timers are looked for: cancels land this late."""


class SimServer:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self._state = SimState(config)
        self._rest = RestApi(self._state)
        self._binance: BinanceRest | None = None
        self._binance_ws: BinanceHub | None = None
        if config.venue == "binance":
            rest = self._binance = BinanceRest(self._state)
            self._binance_ws = BinanceHub(config, lambda: self._state.engine, lambda: rest.memory)
            self._state.feeds = [self._binance_ws]
        self._control = ControlApi(self._state)
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.port = config.port

    @property
    def engine(self) -> Engine:
        """The matching engine (replaced by ``POST /_sim/reset``)."""
        return self._state.engine

    @property
    def state(self) -> SimState:
        return self._state

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def binance_ws_url(self) -> str:
        """The Binance dialect's stream host: routes ``/public``, ``/market``, ``/private``."""
        return f"ws://{self.config.host}:{self.port}"

    @property
    def ws_public_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}/api?protocol=1.1"

    @property
    def ws_private_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}/user?protocol=1.1"

    async def start(self) -> None:
        replay: ReplayRunner | None = None
        if self.config.replay_file is not None:
            if self.config.replay_symbol not in self.engine.symbols:
                raise ValueError(f"replay symbol {self.config.replay_symbol} has no price")
            path = KlinePricePath.from_file(self.config.replay_file)
            replay = ReplayRunner(
                path,
                self.config.replay_symbol,
                self.config.replay_speed,
                self.set_price,
                label=str(self.config.replay_file),
            )
        app = web.Application(client_max_size=1 << 20)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S
        )
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self.port = int(address[1])
        hub = self._state.hub
        jobs: list[tuple[float, Callable[[], None]]] = [
            (self.config.position_push_interval_s, hub.publish_positions),
            (self.config.ticker_refresh_s, hub.refresh_tickers),
            (self.config.funding_push_interval_s, hub.publish_funding),
            (CANCEL_AFTER_TICK_S, self._state.cancel_expired),
        ]
        if self._binance_ws is not None:
            jobs.append((self.config.binance_mark_price_push_s, self._binance_ws.publish_marks))
        for interval, job in jobs:
            self._tasks.append(asyncio.create_task(self._every(interval, job)))
        if replay is not None:
            self._state.replay = replay
            self._tasks.append(asyncio.create_task(replay.run()))

    async def stop(self) -> None:
        """Stop background work, close every socket, release the port."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._runner is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._state.hub.close_all(), SHUTDOWN_TIMEOUT_S)
        if self._binance_ws is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._binance_ws.close_all(), SHUTDOWN_TIMEOUT_S)
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def set_price(self, symbol: str, price: Decimal) -> list[int]:
        """Same as ``POST /_sim/price``: returns the ids of the orders that filled."""
        return self._state.move_price(symbol, Decimal(price))

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if self._binance is not None:
            if path.startswith("/_sim/"):
                return await self._control.handle(request)
            if self._binance_ws is not None and BinanceHub.serves(path):
                return await self._binance_ws.serve(request)
            return await self._binance.handle(request)
        if path == "/api":
            return await self._state.hub.serve(request, private=False)
        if path == "/user":
            return await self._state.hub.serve(request, private=True)
        if path.startswith("/_sim/"):
            return await self._control.handle(request)
        return await self._rest.handle(request)

    @staticmethod
    async def _every(interval_s: float, job: Callable[[], None]) -> None:
        if interval_s <= 0:
            return
        while True:
            await asyncio.sleep(interval_s)
            job()


def run_sim(config: SimConfig) -> None:
    """Serve until Ctrl-C or SIGTERM (blocking; for the CLI)."""
    run(_serve_until_signalled(config))


async def _serve_until_signalled(config: SimConfig) -> None:
    server = SimServer(config)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if config.venue == "binance":
        banner = (
            f"zoneguard sim (binance): REST {server.base_url}  "
            f"WS {server.binance_ws_url}/{{public,market,private}}  (key {config.api_key})"
        )
        print(banner, flush=True)
    else:
        print(
            f"zoneguard sim: REST {server.base_url}  WS public {server.ws_public_url}  "
            f"WS private {server.ws_private_url}  (key {config.api_key})",
            flush=True,
        )
    try:
        await stop.wait()
    finally:
        await server.stop()
