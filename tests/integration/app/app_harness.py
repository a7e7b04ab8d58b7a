"""Shared pieces of the app's tests: databases (a fresh SQLite file; a fresh PostgreSQL
schema when ZONEGUARD_TEST_PG_URL is set), a private RabbitMQ queue (ZONEGUARD_TEST_AMQP_URL),
a fake worker on 127.0.0.1, an HTTP client. A uniquely named module, not a conftest, so
imports cannot pick another folder's."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from zoneguard.app.settings import AppSettings

PG_ENV = "ZONEGUARD_TEST_PG_URL"
AMQP_ENV = "ZONEGUARD_TEST_AMQP_URL"

SIGNAL: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "side": "long",
    "entry_zone_min": 65000,
    "entry_zone_max": 65500,
    "quantity": 0.01,
    "leverage": 10,
    "stop_loss": 64000,
    "take_profit": 68000,
    "timeout_seconds": 300,
    "metadata": {"strategy": "high_conviction"},
}
"""The seed's TradingSignal, snake_case."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def eventually(check: Callable[[], Any], timeout: float = 5.0, what: str = "it") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'app.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL whose connections live in a fresh schema, dropped afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set (PostgreSQL tests skipped)")
    import psycopg

    schema = "zg_" + secrets.token_hex(6)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        drop_schema(base, schema)


def drop_schema(base: str, schema: str) -> None:
    """Drop the test's schema. pytest tears ``start_app`` down after this fixture when the
    test names it first, so the app may still be polling: a deadlock with its reads is
    retried (PostgreSQL cancels one side; the app's side only logs)."""
    import psycopg

    for attempt in range(20):
        try:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
            return
        except (psycopg.errors.DeadlockDetected, psycopg.errors.LockNotAvailable):
            if attempt == 19:
                raise
            time.sleep(0.1)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test twice: on a SQLite file, and on PostgreSQL when available."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def amqp_dsn() -> AsyncIterator[str]:
    """A DSN with a private queue, deleted afterwards."""
    base = os.environ.get(AMQP_ENV)
    if not base:
        pytest.skip(f"{AMQP_ENV} is not set (RabbitMQ tests skipped)")
    import aio_pika

    queue = "zg_test_" + secrets.token_hex(6)
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}queue={queue}"
    connection = await aio_pika.connect(base)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(queue)


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> AppSettings:
    """Settings with a quick bus (tests wait on events, not on a 1 s poll)."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "var_dir": tmp_path / "var",
        "bus_retry_base_s": 0.05,
        "bus_retry_max_s": 1.0,
        "bus_poll_interval_s": 0.1,
        "bus_lease_s": 3.0,
        # Bounds a hang only: the worker (fake or real) runs in this process, and a 2 s
        # timeout raced it on a busy machine (a request cut off, then sent again).
        "worker_timeout_s": 30.0,
        "worker_attempts": 1,
        "ws_worker_base_url": f"http://127.0.0.1:{free_port()}",  # nobody there
    }
    values.update(overrides)
    return AppSettings(**values)


def contract_facts(symbol: str) -> dict[str, str]:
    """The worker's contract facts (``GET /api/market/{symbol}/contract``) of a BTCUSDT-like
    contract: 0.001 base per contract, at least one."""
    return {
        "symbol": symbol,
        "base_currency": symbol.removesuffix("USDT") or symbol,
        "quote_currency": "USDT",
        "contract_size": "0.001",
        "lot_size": "1",
        "tick_size": "0.1",
        "min_contracts": "1",
        "max_contracts": "500000",
        "market_max_contracts": "100000",
        "min_quantity": "0.001",
        "max_quantity": "500",
        "min_leverage": "1",
        "max_leverage": "100",
    }


@dataclass
class FakeWorker:
    """The worker's control API as a script: answers ``replies`` in turn (then 200 OK),
    records every request. The contract route (asked by the app's API before it stores a
    signal) is answered apart: ``contract_replies`` in turn, then :func:`contract_facts`;
    recorded in ``contract_requests``, so ``requests`` holds what the bus sends."""

    port: int = field(default_factory=free_port)
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    replies: list[tuple[int, Any]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    delay_s: float = 0.0
    delays: dict[str, float] = field(default_factory=dict)
    """Per request path ending (``"/cancel"``), instead of ``delay_s``."""
    contract_requests: list[str] = field(default_factory=list)
    contract_replies: list[tuple[int, Any]] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def bodies(self, path: str) -> list[Any]:
        return [body for _m, p, _h, body in self.requests if p == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        parts = request.path.split("/")
        if request.method == "GET" and parts[1:3] == ["api", "market"] and parts[-1] == "contract":
            self.contract_requests.append(parts[3])
            if self.contract_replies:
                status, reply = self.contract_replies.pop(0)
                return web.json_response(reply, status=status)
            return web.json_response(contract_facts(parts[3]))
        self.times.append(time.monotonic())
        raw = await request.read()
        body = orjson.loads(raw) if raw else None
        self.requests.append((request.method, request.path_qs, dict(request.headers), body))
        delay = next((d for end, d in self.delays.items() if request.path.endswith(end)), None)
        if delay is None:
            delay = self.delay_s
        if delay:
            await asyncio.sleep(delay)
        status, reply = self.replies.pop(0) if self.replies else (200, None)
        if reply is None:
            reply = {"ok": True, "order_id": (body or {}).get("id"), "status": "waiting_zone"}
        if isinstance(reply, bytes):
            return web.Response(body=reply, status=status)
        return web.json_response(reply, status=status)


@pytest.fixture
async def fake_worker() -> AsyncIterator[FakeWorker]:
    worker = FakeWorker()
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


class Http:
    """JSON over HTTP to the app under test (with its bearer token, when it has one)."""

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, token: str | None = None
    ) -> None:
        self.session = session
        self.base_url = base_url
        self.auth = {"Authorization": f"Bearer {token}"} if token else {}

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = raw if raw is not None else (None if body is None else orjson.dumps(body))
        sent = {"Content-Type": "application/json", **self.auth, **(headers or {})}
        async with self.session.request(
            method, self.base_url + path, data=data, headers=sent
        ) as reply:
            text = await reply.read()
            try:
                return reply.status, orjson.loads(text)
            except orjson.JSONDecodeError:
                return reply.status, text.decode()

    async def get(self, path: str) -> tuple[int, Any]:
        return await self.request("GET", path)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        return await self.request("POST", path, body, **kwargs)


@dataclass
class RunningApp:
    server: Any  # zoneguard.app.server.AppServer
    http: Http
    settings: AppSettings

    @property
    def runtime(self) -> Any:
        return self.server.runtime


AppStarter = Callable[..., Any]


@pytest.fixture
async def start_app(tmp_path: Path) -> AsyncIterator[AppStarter]:
    """``await start_app(database_url, consume=True, **settings)`` -> :class:`RunningApp`;
    everything started is stopped at the end."""
    from zoneguard.app.server import AppServer

    started: list[AppServer] = []
    session = aiohttp.ClientSession()

    async def start(database_url: str, *, consume: bool = True, **overrides: Any) -> RunningApp:
        settings = make_settings(database_url, tmp_path, **overrides)
        server = AppServer(settings, free_port(), consume=consume, feed_interval_s=0.2)
        await server.start()
        started.append(server)
        return RunningApp(server, Http(session, server.url, settings.token()), settings)

    try:
        yield start
    finally:
        for server in reversed(started):
            await server.stop()
        await session.close()
