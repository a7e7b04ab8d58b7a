"""The app's half of the end-to-end chain, shared by the app-flow tests: the app (runtime +
HTTP, restartable on one port and database) pointed at the in-process worker of a
:class:`~e2e_harness.Stack`, over SQLite with the database bus or PostgreSQL with RabbitMQ.

A test module binds the fixtures it uses to names of its own (``backend =
app_e2e_support.backend``: pytest finds fixtures among a module's names; importing them
by name would trip ruff's F811 at every test that takes one). A uniquely named module,
not a conftest, so imports cannot pick another folder's."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from e2e_harness import Stack

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "app"))
from app_harness import (
    SIGNAL,
    Http,
    amqp_dsn,
    free_port,
    make_settings,
    pg_url,
    sqlite_url,
)

from zoneguard.app.server import AppServer

__all__ = [
    "SECRET",
    "SIGNAL",
    "App",
    "AppFactory",
    "Http",
    "amqp_dsn",
    "app_factory",
    "backend",
    "free_port",
    "pg_url",
    "submit_signal",
]

SECRET = "e2e-callback-secret"
"""Shared by the worker (signs callbacks) and the app (checks them)."""


@pytest.fixture(params=["sqlite+db", "postgresql+amqp"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Where the app keeps its state and its bus."""
    if request.param == "sqlite+db":
        return {"database_url": sqlite_url(tmp_path)}
    return {
        "database_url": request.getfixturevalue("pg_url"),
        "messenger_transport_dsn": request.getfixturevalue("amqp_dsn"),
    }


class App:
    """One app process's worth (runtime + HTTP), restartable on the same port and database."""

    def __init__(self, stack: Stack, tmp_path: Path, backend: dict[str, Any]) -> None:
        assert stack.worker is not None
        self.port = free_port()
        self.settings = make_settings(
            backend["database_url"],
            tmp_path,
            messenger_transport_dsn=backend.get("messenger_transport_dsn", "db://"),
            ws_worker_base_url=stack.worker.url,
            app_base_url=f"http://127.0.0.1:{self.port}",
            callback_secret=SECRET,
            worker_attempts=2,
        )
        self.server: AppServer | None = None
        self.session = aiohttp.ClientSession()
        self.http = Http(self.session, f"http://127.0.0.1:{self.port}")

    async def start(self, *, consume: bool = True) -> None:
        self.server = AppServer(self.settings, self.port, consume=consume, feed_interval_s=0.2)
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None

    async def close(self) -> None:
        await self.stop()
        await self.session.close()

    async def order(self, order_id: str) -> dict[str, Any]:
        status, body = await self.http.get(f"/api/orders/{order_id}")
        assert status == 200, body
        detail: dict[str, Any] = body
        return detail

    async def wait_status(
        self, order_id: str, status: str, timeout: float = 10.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            detail = await self.order(order_id)
            if detail["status"] == status:
                return detail
            if time.monotonic() > deadline:
                raise AssertionError(f"{order_id} is {detail['status']}, not {status}")
            await asyncio.sleep(0.05)


AppFactory = Callable[[], App]


@pytest.fixture
async def app_factory(
    stack: Stack, tmp_path: Path, backend: dict[str, Any]
) -> AsyncIterator[AppFactory]:
    made: list[App] = []

    def make() -> App:
        app = App(stack, tmp_path, backend)
        made.append(app)
        return app

    yield make
    for app in made:
        await app.close()


async def submit_signal(app: App, **changes: Any) -> str:
    """POST the seed's signal (with ``changes``) to the app; returns the order id once the
    worker has accepted it (status ``submitted``)."""
    status, body = await app.http.post("/api/signals", {**SIGNAL, **changes})
    assert status == 201, body
    order_id = str(body["id"])
    await app.wait_status(order_id, "submitted")
    return order_id
