"""A real HTTP receiver on 127.0.0.1 that records what it is sent (shared by the worker's
integration tests; a uniquely named module, not conftest, so imports cannot pick another
directory's conftest)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import orjson
import pytest
from aiohttp import web


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> dict[str, object]:
        data = orjson.loads(self.raw)
        assert isinstance(data, dict)
        return data


@dataclass
class Recorder:
    """Records every POST; ``answer`` decides the status code for each request."""

    port: int
    received: list[Received] = field(default_factory=list)
    answer: Callable[[Received], int] = lambda _request: 200
    delay_s: float = 0.0
    concurrent: int = 0
    max_concurrent: int = 0
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = int(self._runner.addresses[0][1])  # the kernel's pick when port was 0

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        received = Received(request.path, dict(request.headers), await request.read())
        self.received.append(received)
        self.concurrent += 1
        self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            return web.json_response({"status": "ok"}, status=self.answer(received))
        finally:
            self.concurrent -= 1

    def on(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    """A running receiver, on a port the kernel picks as it binds."""
    rec = Recorder(port=0)
    await rec.start()
    yield rec
    await rec.stop()


@pytest.fixture
async def stopped_recorder() -> AsyncIterator[Recorder]:
    """A receiver on a reserved port that the test starts when it wants it up."""
    rec = Recorder(port=free_port())
    yield rec
    await rec.stop()


Eventually = Callable[..., Awaitable[None]]


async def _eventually(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
def eventually() -> Eventually:
    """``await eventually(lambda: ...)``: wait until it holds, fail after ``timeout_s``."""
    return _eventually
