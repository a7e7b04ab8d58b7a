"""One self-healing Binance websocket on one route (``/public``, ``/market``, or
``/private/ws?listenKey=...``).

Market routes: it connects to ``<route>/stream`` (combined mode: every push arrives as
``{"stream": name, "data": payload}``) and keeps a set of wanted stream names, sent as
``{"method": "SUBSCRIBE", "params": [...], "id": n}`` after every (re)connect. The
private route carries no subscriptions: the listenKey in the URL is the subscription, and
events come unwrapped (their ``e`` names them).

Binance pings every 3 minutes and drops a connection that does not pong within 10;
aiohttp answers pings by itself. A connection silent for ``silence_timeout_s`` is taken
for dead, and any loss reconnects with backoff and jitter; Binance also closes every
connection after 24 hours, which is just another loss. The owner is told (``on_state``)
so it can reconcile over REST: Binance replays nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Callable, Iterable
from typing import Any

import aiohttp
import orjson

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, Any, int], None]
"""(stream name, or the event type on the private route; payload; monotonic ns)."""
StateHandler = Callable[[str, bool], None]
UrlFactory = Callable[[], str]
"""The URL of the next connection (the private route's listenKey may change)."""
MAX_PARAMS_PER_FRAME = 200
"""Binance takes at most 10 incoming messages a second per connection: few, big frames."""


class BinanceStream:
    """Connection manager for one route; owns no parsing of business data."""

    def __init__(
        self,
        url: UrlFactory,
        *,
        name: str,
        on_message: MessageHandler,
        on_state: StateHandler | None = None,
        session: aiohttp.ClientSession | None = None,
        combined: bool = True,
        silence_timeout_s: float = 30.0,
        reconnect_initial_s: float = 0.1,
        reconnect_max_s: float = 5.0,
    ) -> None:
        self._url = url
        self.name = name
        self._on_message = on_message
        self._on_state = on_state
        self._session = session
        self._combined = combined
        self._silence_timeout_s = silence_timeout_s
        self._reconnect_initial_s = reconnect_initial_s
        self._reconnect_max_s = reconnect_max_s
        self._wanted: set[str] = set()
        self._ids = itertools.count(1)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None
        self._up = asyncio.Event()
        self.connected = False
        self.reconnects = 0
        self.last_data_ns: int | None = None

    # -- the owner's side
    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop()

    async def wait_up(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self._up.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def subscribe(self, streams: Iterable[str]) -> None:
        new = {s.lower() for s in streams} - self._wanted
        self._wanted |= new
        if new and self._ws is not None and not self._ws.closed:
            await self._send("SUBSCRIBE", sorted(new))

    async def unsubscribe(self, streams: Iterable[str]) -> None:
        gone = {s.lower() for s in streams} & self._wanted
        self._wanted -= gone
        if gone and self._ws is not None and not self._ws.closed:
            await self._send("UNSUBSCRIBE", sorted(gone))

    async def force_reconnect(self) -> None:
        await self._drop()

    # -- the connection
    async def _run(self) -> None:
        delay = self._reconnect_initial_s
        while True:
            try:
                await self._connect_and_read()
                delay = self._reconnect_initial_s
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("binance %s stream lost: %r", self.name, exc)
            self._set_state(False)
            self.reconnects += 1
            await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
            delay = min(delay * 2, self._reconnect_max_s)

    async def _connect_and_read(self) -> None:
        session = self._session
        if session is None:
            session = self._session = aiohttp.ClientSession()
        url = self._url()
        async with session.ws_connect(url, heartbeat=None, autoping=True) as ws:
            self._ws = ws
            if self._combined and self._wanted:
                await self._send("SUBSCRIBE", sorted(self._wanted))
            self._set_state(True)
            while True:
                message = await ws.receive(timeout=self._silence_timeout_s)
                if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    self._handle(message.data, time.monotonic_ns())
                elif message.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.ERROR,
                ):
                    return

    def _handle(self, raw: str | bytes, received_ns: int) -> None:
        try:
            frame = orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.error("binance %s stream: unreadable frame dropped", self.name)
            return
        if not isinstance(frame, dict):
            return
        if "id" in frame and ("result" in frame or "error" in frame):
            if frame.get("error"):
                log.error("binance %s stream refused a request: %s", self.name, frame["error"])
            return
        self.last_data_ns = received_ns
        if "stream" in frame and "data" in frame:
            self._on_message(str(frame["stream"]), frame["data"], received_ns)
        else:
            self._on_message(str(frame.get("e", "")), frame, received_ns)

    async def _send(self, method: str, params: list[str]) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            return
        for start in range(0, len(params), MAX_PARAMS_PER_FRAME):
            chunk = params[start : start + MAX_PARAMS_PER_FRAME]
            frame = {"method": method, "params": chunk, "id": next(self._ids)}
            await ws.send_str(orjson.dumps(frame).decode())

    async def _drop(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None and not ws.closed:
            await ws.close()

    def _set_state(self, up: bool) -> None:
        if up == self.connected:
            return
        self.connected = up
        if up:
            self._up.set()
        else:
            self._up.clear()
        if self._on_state is not None:
            self._on_state(self.name, up)
