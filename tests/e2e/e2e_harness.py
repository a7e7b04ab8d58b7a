"""The whole stack on loopback for end-to-end tests: the simulator, a worker (in this process
or as a real child process that can be SIGKILLed) and a callback receiver, all over real
sockets. A uniquely named module (not conftest) so imports cannot pick another folder's."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import uvicorn
from aiohttp import web
from fastapi import FastAPI

from zoneguard.exchange.binance.adapter import BinanceExchange
from zoneguard.exchange.binance.settings import BinanceSettings
from zoneguard.exchange.bitmart.adapter import BitMartExchange
from zoneguard.exchange.bitmart.settings import BitMartSettings
from zoneguard.exchange.port import ExchangePort, VenueCapabilities
from zoneguard.sim.config import SimConfig
from zoneguard.sim.server import SimServer
from zoneguard.worker.config import OrdersConfig, WorkerSettings
from zoneguard.worker.http import create_app
from zoneguard.worker.logs import setup_worker_logging, shutdown_worker_logging
from zoneguard.worker.service import WorkerService

SEED_ORDER: dict[str, Any] = {
    "id": "test-order-123",
    "symbol": "BTCUSDT",
    "side": "long",
    "entry_zone_min": 65000,
    "entry_zone_max": 65500,
    "quantity": 0.01,
    "leverage": 10,
    "stop_loss": 64000,
    "take_profit": 68000,
    "timeout_seconds": 300,
}
"""The payload of the seed's "Test Manuel du Flux Complet", step 4."""


def free_port() -> int:
    """A port that was free a moment ago, for a child process that binds it itself. A server
    in this process binds port 0 instead (:func:`bound_socket`): nothing can take it first."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def bound_socket() -> socket.socket:
    """A listening-ready socket on a port the kernel picked, for an in-process server."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


async def eventually(
    check: Callable[[], Any], timeout: float = 5.0, what: str = "condition"
) -> Any:
    """Wait until ``check()`` returns (or, for a coroutine function, resolves to) something
    truthy (events, not timing, decide tests)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@dataclass
class Receiver:
    """The trading app's callback endpoint: records every POST; can be down.

    The first :meth:`start` binds a port the kernel picks (no free-port guess another
    process can take in between); a later start after :meth:`stop` binds that port again."""

    port: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    status: int = 200
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        assert self.port, "start the receiver first: its port is chosen then"
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        if self.status == 200:
            self.bodies.append(orjson.loads(await request.read()))
            self.headers.append(dict(request.headers))
        return web.json_response({"status": "ok"}, status=self.status)

    def of(self, order_id: str) -> list[dict[str, Any]]:
        return [
            b
            for b in self.bodies
            if b.get("order_id") == order_id or b.get("position_id") == order_id
        ]

    def statuses(self, order_id: str) -> list[str]:
        return [str(b["status"]) for b in self.of(order_id)]

    async def wait_for(self, order_id: str, status: str, timeout: float = 8.0) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((b for b in self.of(order_id) if b["status"] == status), None)

        what = f"{status} callback of {order_id}"
        result: dict[str, Any] = await eventually(found, timeout, what)
        return result


def sim_exchange_settings(sim: SimServer) -> BitMartSettings:
    return BitMartSettings(
        api_key=sim.config.api_key,
        api_secret=sim.config.api_secret,
        api_memo=sim.config.api_memo,
        rest_url=sim.base_url,
        ws_public_url=sim.ws_public_url,
        ws_private_url=sim.ws_private_url,
        rest_timeout_s=2.0,
        ping_interval_s=1.0,
        silence_timeout_s=3.0,
        reconnect_max_s=0.5,
    )


def sim_exchange(sim: SimServer) -> ExchangePort:
    """The adapter of the simulator's dialect (``sim.config.venue``), pointed at it."""
    if sim.config.venue == "binance":
        return BinanceExchange(
            BinanceSettings(
                api_key=sim.config.api_key,
                api_secret=sim.config.api_secret,
                rest_url=sim.base_url,
                ws_url=sim.base_url.replace("http", "ws", 1),
                rest_timeout_s=2.0,
                silence_timeout_s=3.0,
                reconnect_max_s=0.5,
            )
        )
    return BitMartExchange(sim_exchange_settings(sim))


def sim_env(sim: SimServer, receiver: Receiver) -> dict[str, str]:
    if sim.config.venue == "binance":
        return {
            "ZONEGUARD_VENUE": "binance",
            "BINANCE_API_KEY": sim.config.api_key,
            "BINANCE_API_SECRET": sim.config.api_secret,
            "BINANCE_REST_URL": sim.base_url,
            "BINANCE_WS_URL": sim.base_url.replace("http", "ws", 1),
            "APP_BASE_URL": receiver.base_url,
        }
    return {
        "BITMART_API_KEY": sim.config.api_key,
        "BITMART_API_SECRET": sim.config.api_secret,
        "BITMART_API_MEMO": sim.config.api_memo,
        "BITMART_REST_URL": sim.base_url,
        "BITMART_WS_PUBLIC_URL": sim.ws_public_url,
        "BITMART_WS_PRIVATE_URL": sim.ws_private_url,
        "APP_BASE_URL": receiver.base_url,
    }


class Client:
    """HTTP to the worker and the simulator's control API."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        sim: SimServer,
        worker_url: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.session = session
        self.sim = sim
        self.worker_url = worker_url
        self.headers: dict[str, str] = dict(headers or {})
        """Sent with every request to the worker (e.g. ``Authorization``)."""

    async def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.post(
            self.worker_url + path, json=body, headers=self.headers
        ) as reply:
            return reply.status, await reply.json(content_type=None)

    async def post_raw(self, path: str, data: bytes) -> tuple[int, Any]:
        headers = {**self.headers, "Content-Type": "application/json"}
        async with self.session.post(self.worker_url + path, data=data, headers=headers) as reply:
            return reply.status, await reply.json(content_type=None)

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.session.get(self.worker_url + path, headers=self.headers) as reply:
            return reply.status, await reply.json(content_type=None)

    async def sim_fill(self, symbol: str, order_id: str, contracts: int) -> int:
        """Partial fill of a resting order through ``POST /_sim/fill``; returns the HTTP
        status (404 while the simulator has no such endpoint)."""
        body = {"symbol": symbol, "order_id": order_id, "contracts": contracts}
        async with self.session.post(self.sim.base_url + "/_sim/fill", json=body) as reply:
            await reply.read()
            return reply.status

    async def price(self, symbol: str, price: str | int | float) -> None:
        body = {"symbol": symbol, "price": str(price)}
        async with self.session.post(self.sim.base_url + "/_sim/price", json=body) as reply:
            assert reply.status == 200, await reply.text()

    async def prices(self, symbol: str, *path: str | int | float) -> None:
        for price in path:
            await self.price(symbol, price)
            await asyncio.sleep(0.02)

    async def fault(self, body: dict[str, Any]) -> None:
        async with self.session.post(self.sim.base_url + "/_sim/faults", json=body) as reply:
            assert reply.status == 200, await reply.text()

    async def sim_state(self) -> dict[str, Any]:
        async with self.session.get(self.sim.base_url + "/_sim/state") as reply:
            state: dict[str, Any] = await reply.json()
            return state

    async def order_state(self, order_id: str) -> str:
        status, body = await self.get(f"/api/orders/{order_id}")
        assert status == 200, body
        return str(body["order"]["state"])

    async def wait_state(self, order_id: str, state: str, timeout: float = 8.0) -> None:
        deadline = time.monotonic() + timeout
        while (current := await self.order_state(order_id)) != state:
            if time.monotonic() > deadline:
                raise AssertionError(f"{order_id} is {current}, not {state}")
            await asyncio.sleep(0.02)


class InProcessWorker:
    """The worker service and its control API, served by uvicorn inside the test's loop."""

    def __init__(
        self,
        sim: SimServer,
        receiver: Receiver,
        var_dir: Path,
        config: OrdersConfig | None = None,
        capabilities: VenueCapabilities | None = None,
        **settings: Any,
    ) -> None:
        self._socket = bound_socket()
        self.port: int = self._socket.getsockname()[1]
        exchange = sim_exchange(sim)
        if capabilities is not None:
            # The real adapter declaring less than BitMart can: the worker must then take
            # the path of a venue without it (Binance's: no presets on the entry).
            exchange.capabilities = capabilities
        self.service = WorkerService(
            exchange,
            config or OrdersConfig(),
            WorkerSettings(app_base_url=receiver.base_url, **settings),
            var_dir,
        )
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.app: FastAPI | None = None
        """The control API being served (set by :meth:`start`)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, api_token: str | None = None) -> None:
        await self.service.start()
        app = self.app = create_app(self.service, api_token)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        serving = self._server.serve(sockets=[self._socket])
        self._task = asyncio.get_running_loop().create_task(serving)
        await eventually(lambda: self._server is not None and self._server.started, 5, "uvicorn")

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._socket.close()
        await self.service.stop()


STARTUP_BOUND_S = 60.0
"""How long a child process (worker, app) may take to become ready: a bound on a hang. A
start takes 1-5 s, but under CPU stress with other suites running it passed 20 s (a fresh
interpreter importing everything, and REST round trips to a simulator in this starved
process); pytest's own 120 s per test still bounds the whole."""


class WorkerProcess:
    """`zoneguard worker` as a real child process: killed with SIGKILL in the crash tests."""

    def __init__(self, sim: SimServer, receiver: Receiver, var_dir: Path, config: Path) -> None:
        self.port = free_port()
        self.var_dir = var_dir
        self.config = config
        self.env = {**os.environ, **sim_env(sim, receiver)}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, session: aiohttp.ClientSession, timeout: float = STARTUP_BOUND_S) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "zoneguard.cli",
                "worker",
                "--port",
                str(self.port),
                "--var-dir",
                str(self.var_dir),
                "--config",
                str(self.config),
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.var_dir / "stderr.txt", "ab"),  # noqa: SIM115
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                err = (self.var_dir / "stderr.txt").read_text()
                raise AssertionError(f"worker exited with {self.proc.returncode}: {err[-2000:]}")
            try:
                async with session.get(self.url + "/health") as reply:
                    if reply.status == 200 and (await reply.json())["ready"]:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                err = (self.var_dir / "stderr.txt").read_text()
                raise AssertionError(f"worker not ready in {timeout} s: {err[-2000:]}")
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def sim_config(**overrides: Any) -> SimConfig:
    base: dict[str, Any] = {"port": 0, "prices": {"BTCUSDT": Decimal("66000")}}
    base.update(overrides)
    return SimConfig(**base)


class Stack:
    """Sim + receiver + in-process worker + client, torn down in reverse order (the ``stack``
    fixture). Lives here, not in conftest, so ``from e2e_harness import Stack`` cannot pick
    another folder's conftest."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.sim: SimServer | None = None
        self.receiver = Receiver()
        self.worker: InProcessWorker | None = None
        self.session: aiohttp.ClientSession | None = None

    async def start(
        self,
        *,
        orders: dict[str, Any] | None = None,
        sim: dict[str, Any] | None = None,
        api_token: str | None = None,
        capabilities: VenueCapabilities | None = None,
        **settings: Any,
    ) -> Client:
        self.sim = SimServer(sim_config(**(sim or {})))
        await self.sim.start()
        await self.receiver.start()
        setup_worker_logging(self.tmp_path)
        config = OrdersConfig.model_validate({"orders": orders or {}})
        self.worker = InProcessWorker(
            self.sim, self.receiver, self.tmp_path, config, capabilities, **settings
        )
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


StackFactory = Callable[..., Awaitable[tuple[SimServer, Receiver, InProcessWorker, Client]]]


# -- crash tests: the worker as a child process, SIGKILLed and started again -------------

ENTRY_SIDES = (1, 4)
"""BitMart sides that open a position (1 buy-open-long, 4 sell-open-short)."""
CLOSE_SIDES = (2, 3)
"""BitMart sides that close one (reduce-only)."""

SubmitHook = Callable[[Any], bool]


class CrashStack:
    """Sim and receiver in this process, the worker as a child process on one journal.

    :meth:`kill` sends SIGKILL; :meth:`restart` starts a new process on the same journal
    and port, so one :class:`Client` serves the whole test. :meth:`kill_on_submit` kills
    the worker from inside the simulator at the moment it receives a chosen order, which
    is the only way to stop the worker *between* the exchange accepting an order and the
    worker hearing of it (the order push follows the acceptance within microseconds)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.sim: SimServer | None = None
        self.receiver = Receiver()
        self.worker: WorkerProcess | None = None
        self.session: aiohttp.ClientSession | None = None
        self.client: Client | None = None
        self.kills = 0

    async def start(
        self, *, orders: dict[str, Any] | None = None, sim: dict[str, Any] | None = None
    ) -> Client:
        self.sim = SimServer(sim_config(**(sim or {})))
        await self.sim.start()
        await self.receiver.start()
        self.write_orders_config(orders or {})
        config = self.tmp_path / "orders.yaml"
        self.worker = WorkerProcess(self.sim, self.receiver, self.tmp_path, config)
        self.session = aiohttp.ClientSession()
        await self.worker.start(self.session)
        self.client = Client(self.session, self.sim, self.worker.url)
        return self.client

    def kill(self) -> None:
        assert self.worker is not None and self.worker.proc is not None
        if self.worker.proc.poll() is None:
            self.worker.kill()
            self.kills += 1

    @property
    def alive(self) -> bool:
        return (
            self.worker is not None
            and self.worker.proc is not None
            and self.worker.proc.poll() is None
        )

    async def restart(self, *, killed_while_resuming: bool = False) -> None:
        """A new worker process on the same journal; returns once it is ready (resumed), or,
        with ``killed_while_resuming``, once a :meth:`kill_on_submit` hook killed it."""
        assert self.worker is not None and self.session is not None
        assert not self.alive, "kill the worker first"
        kills = self.kills
        try:
            await self.worker.start(self.session)
        except AssertionError:
            if not (killed_while_resuming and self.kills > kills):
                raise

    def kill_on_submit(self, matches: SubmitHook, *, execute: bool) -> None:
        """SIGKILL the worker when the simulator receives a submit-order ``matches`` accepts
        (a :class:`zoneguard.sim.engine.OrderRequest`), once. ``execute``: the order is
        accepted first (it lands, the worker never hears); else it is refused (the worker
        died after journaling its intent, before the order reached the exchange)."""
        from zoneguard.sim import errors as sim_errors
        from zoneguard.sim.errors import SimError

        assert self.sim is not None
        engine = self.sim.engine
        original = engine.submit_order

        def submit_order(req: Any, **kwargs: Any) -> Any:
            if kwargs or not matches(req):
                return original(req, **kwargs)
            engine.submit_order = original  # type: ignore[method-assign]
            if execute:
                accepted = original(req)
                self.kill()
                return accepted
            self.kill()
            raise SimError(sim_errors.SERVICE_UNAVAILABLE, "Service is unavailable")

        engine.submit_order = submit_order  # type: ignore[method-assign]

    def kill_on_cancel(self) -> None:
        """SIGKILL the worker when the simulator receives its next cancel-order, which is
        refused: the worker died after journaling the cancel, before the exchange had it."""
        from zoneguard.sim import errors as sim_errors
        from zoneguard.sim.errors import SimError

        assert self.sim is not None
        engine = self.sim.engine
        original = engine.cancel_order

        def cancel_order(*args: Any, **kwargs: Any) -> Any:
            engine.cancel_order = original  # type: ignore[method-assign]
            self.kill()
            raise SimError(sim_errors.SERVICE_UNAVAILABLE, "Service is unavailable")

        engine.cancel_order = cancel_order  # type: ignore[method-assign]

    def write_orders_config(self, orders: dict[str, Any]) -> None:
        """Replace the worker's ``orders.yaml`` (read at its next start)."""
        config = self.tmp_path / "orders.yaml"
        config.write_text(orjson.dumps({"orders": orders}).decode(), encoding="utf-8")

    async def close(self) -> None:
        if self.worker is not None:
            self.worker.terminate()
        if self.session is not None:
            await self.session.close()
        await self.receiver.stop()
        if self.sim is not None:
            await self.sim.stop()


def sim_orders(
    state: dict[str, Any], *, sides: tuple[int, ...], symbol: str | None = None
) -> list[dict[str, Any]]:
    """The simulator's orders (``/_sim/state``) with a BitMart side in ``sides``."""
    return [
        o
        for o in state["orders"]
        if o["side"] in sides and (symbol is None or o["symbol"] == symbol)
    ]


def filled(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in orders if Decimal(str(o["deal_size"])) > 0]


def open_contracts(state: dict[str, Any], symbol: str) -> Decimal:
    return sum(
        (Decimal(str(p["current_amount"])) for p in state["positions"] if p["symbol"] == symbol),
        Decimal(0),
    )


def distinct_callbacks(receiver: Receiver, order_id: str) -> list[dict[str, Any]]:
    """The order's callbacks, one per ``event_id`` in arrival order; a repeat must be the
    same body (at-least-once delivery: the same event may come twice, never two events
    for one fact)."""
    seen: dict[str, dict[str, Any]] = {}
    for body in receiver.of(order_id):
        first = seen.setdefault(str(body["event_id"]), body)
        assert first == body, f"event {body['event_id']} came back with another body"
    return list(seen.values())


def journal_state(var_dir: Path, order_id: str) -> str | None:
    """The order's state in a (stopped) worker's journal, read straight from SQLite: what
    the worker had written down when it died."""
    import sqlite3

    db = sqlite3.connect(f"file:{var_dir / 'worker.db'}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT state FROM orders WHERE order_id = ?", (order_id,)).fetchone()
    finally:
        db.close()
    return None if row is None else str(row[0])


def sending_recorded(
    var_dir: Path, order_id: str, kind: str, client_order_id: str | None = None
) -> bool:
    """Whether a worker killed as its request left had recorded it: ``placing``/``closing``
    in the journal, or, killed before that commit, the intent log's line (the note comes
    before the send, the commit right after: either may be the last thing done; which one
    a SIGKILL lands after depends on the machine's load). ``client_order_id``: the line
    must be for that request (an earlier attempt's line does not count)."""
    from zoneguard.worker.intents import IntentLog

    acting = {"entry": "placing", "close": "closing"}[kind]
    if journal_state(var_dir, order_id) == acting:
        return True
    log = IntentLog(var_dir / "intents.log")
    try:
        return any(
            i.order_id == order_id
            and i.kind == kind
            and client_order_id in (None, i.client_order_id)
            for i in log.read()
        )
    finally:
        log.close()
