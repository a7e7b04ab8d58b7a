"""Running the app: HTTP (uvicorn) with the bus consumer in the same process, or the
consumer alone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator

import uvicorn

from zoneguard.app.api.app import create_app
from zoneguard.app.callback_probe import check_callback_address, check_once_listening
from zoneguard.app.feed import ChangeFeed
from zoneguard.app.logs import orders_log, setup_orders_logging
from zoneguard.app.runtime import AppRuntime
from zoneguard.app.settings import CALLBACK_PATH, AppSettings, SettingsError
from zoneguard.web.addresses import is_loopback

log = logging.getLogger(__name__)

GRACEFUL_SHUTDOWN_S = 5
"""Requests still running at shutdown get this long, then are cut (event streams are
ended at once, see :class:`_AppUvicorn`)."""


class _AppUvicorn(uvicorn.Server):
    """Ends the live event streams first on shutdown: they never end by themselves, and
    uvicorn would otherwise wait for them."""

    feed: ChangeFeed | None = None

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.feed is not None:
            self.feed.close_streams()
        await super().shutdown(sockets)


class _InProcessServer(_AppUvicorn):
    """Also leaves signals to the program it runs in (the demo, a test)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def uvicorn_server(
    runtime: AppRuntime,
    host: str,
    port: int,
    *,
    server_class: type[_AppUvicorn] = _AppUvicorn,
) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(runtime),
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    server = server_class(config)
    server.feed = runtime.feed
    return server


def check_doors(settings: AppSettings, host: str) -> None:
    """Refuse to listen off loopback without a token (anyone could trade: the worker's
    rule); say at start-up what a loopback-only door still lets in."""
    if settings.token() is None and not is_loopback(host):
        raise SettingsError(
            f"refusing to listen on {host} without ZONEGUARD_API_TOKEN (anyone who reaches "
            "it could send signals); set a token, or listen on 127.0.0.1"
        )
    if settings.secret() is None:
        orders_log.warning(
            "ZONEGUARD_CALLBACK_SECRET is not set: unsigned callbacks are accepted at %s from "
            "loopback peers only; set the secret the worker signs with",
            CALLBACK_PATH,
        )


async def serve(settings: AppSettings, host: str, port: int, *, consume: bool) -> None:
    check_doors(settings, host)
    setup_orders_logging(settings.var_dir, console=True)
    runtime = AppRuntime(settings, consume=consume)
    await runtime.start()
    try:
        server = uvicorn_server(runtime, host, port)
        print(
            f"zoneguard app listening on http://{host}:{port} "
            f"(bus: {runtime.transport_name}, consumer {'on' if consume else 'off'})",
            flush=True,
        )
        probe = asyncio.create_task(check_once_listening(server, settings, runtime.instance_id))
        try:
            await server.serve()
        finally:
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)
    finally:
        await runtime.stop()


async def consume(settings: AppSettings) -> None:
    """Only the bus consumer, until SIGINT or SIGTERM."""
    setup_orders_logging(settings.var_dir, console=True)
    runtime = AppRuntime(settings, consume=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await runtime.start()
    print(f"zoneguard app consumer running (bus: {runtime.transport_name})", flush=True)
    # No HTTP here: callbacks go to the serving app, whichever instance it is.
    probe = asyncio.create_task(check_callback_address(settings, None))
    try:
        await stop.wait()
    finally:
        probe.cancel()
        await asyncio.gather(probe, return_exceptions=True)
        await runtime.stop()


class AppServer:
    """The app inside the current event loop (for the demo and the tests): the runtime and
    uvicorn on ``host:port``; :meth:`stop` shuts both down gracefully."""

    def __init__(
        self,
        settings: AppSettings,
        port: int,
        *,
        host: str = "127.0.0.1",
        consume: bool = True,
        feed_interval_s: float = 1.0,
    ) -> None:
        self.host = host
        self.port = port
        self.runtime = AppRuntime(settings, consume=consume, feed_interval_s=feed_interval_s)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self, *, migrate: bool = True, timeout_s: float = 10.0) -> None:
        check_doors(self.runtime.settings, self.host)
        await self.runtime.start(migrate=migrate)
        server = uvicorn_server(self.runtime, self.host, self.port, server_class=_InProcessServer)
        self._server = server
        self._task = asyncio.get_running_loop().create_task(server.serve())
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not server.started:
            if self._task.done():
                await self._task  # raises what stopped it
                raise RuntimeError(f"the app did not start on {self.url}")
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"the app did not start on {self.url}")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Idempotent."""
        if self._server is not None:
            self._server.should_exit = True
            self._server = None
        if self._task is not None:
            await self._task
            self._task = None
            await self.runtime.stop()
