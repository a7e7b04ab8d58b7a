"""A raw-wire BitMart client for the simulator tests.

It signs requests itself (hmac/hashlib) so these tests check the simulator against the
protocol, not against our own client.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp

from zoneguard.sim import SimServer

KEY, SECRET, MEMO = "wire-key", "wire-secret", "wire-memo"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bitmart"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def hmac_hex(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def now_ms() -> str:
    return str(int(time.time() * 1000))


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def code(self) -> Any:
        return self.body.get("code")

    @property
    def data(self) -> Any:
        return self.body.get("data")


class Wire:
    """Minimal BitMart client: KEYED GETs, SIGNED POSTs of exact bytes, control calls."""

    def __init__(self, session: aiohttp.ClientSession, server: SimServer) -> None:
        self.session = session
        self.server = server
        self.base = server.base_url

    async def _reply(self, response: aiohttp.ClientResponse) -> Reply:
        body = await response.json(content_type=None)
        return Reply(response.status, body, dict(response.headers))

    async def get(
        self, path: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        async with self.session.get(self.base + path, params=params, headers=headers) as r:
            return await self._reply(r)

    async def keyed(self, path: str, **params: str) -> Reply:
        return await self.get(path, params, {"X-BM-KEY": KEY})

    async def post_raw(self, path: str, body: bytes | str, headers: dict[str, str]) -> Reply:
        async with self.session.post(self.base + path, data=body, headers=headers) as r:
            return await self._reply(r)

    async def signed(self, path: str, payload: dict[str, Any] | str) -> Reply:
        body = payload if isinstance(payload, str) else json.dumps(payload)
        ts = now_ms()
        headers = {
            "X-BM-KEY": KEY,
            "X-BM-TIMESTAMP": ts,
            "X-BM-SIGN": hmac_hex(SECRET, f"{ts}#{MEMO}#{body}"),
            "Content-Type": "application/json",
        }
        return await self.post_raw(path, body, headers)

    async def order(self, **fields: Any) -> Reply:
        payload = {"symbol": "BTCUSDT", "type": "limit", "leverage": "10", "open_type": "isolated"}
        payload.update(fields)
        return await self.signed("/contract/private/submit-order", payload)

    async def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        method = self.session.get if body is None else self.session.post
        kwargs: dict[str, Any] = {} if body is None else {"json": body}
        async with method(self.base + path, **kwargs) as r:
            return r.status, await r.json()

    async def price(self, symbol: str, price: str) -> Any:
        status, body = await self.control("/_sim/price", {"symbol": symbol, "price": price})
        assert status == 200, body
        return body

    async def state(self) -> Any:
        return (await self.control("/_sim/state"))[1]

    async def ws(self, private: bool = False) -> aiohttp.ClientWebSocketResponse:
        url = self.server.ws_private_url if private else self.server.ws_public_url
        return await self.session.ws_connect(url, autoping=False)

    async def login(self, ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
        ts = now_ms()
        sign = hmac_hex(SECRET, f"{ts}#{MEMO}#bitmart.WebSocket")
        await ws.send_json({"action": "access", "args": [KEY, ts, sign, "web"]})
        return await recv(ws)


WAIT_S = 10.0
"""How long a frame may take: it only bounds a hang (a busy machine stretches milliseconds
into seconds)."""
PONG = {"group": "System", "data": "pong"}


async def recv(ws: aiohttp.ClientWebSocketResponse, wait_s: float = WAIT_S) -> dict[str, Any]:
    msg = await ws.receive(timeout=wait_s)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    decoded: dict[str, Any] = json.loads(msg.data)
    return decoded


async def recv_until(
    ws: aiohttp.ClientWebSocketResponse,
    match: Callable[[dict[str, Any]], bool],
    wait_s: float = WAIT_S,
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise AssertionError("no matching websocket message")
        frame = await recv(ws, left)
        if match(frame):
            return frame


async def drain(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Every frame the simulator sent on this socket before it answered a ping sent now.

    The simulator publishes inside the request that causes a push and writes a socket's
    frames in order, so this is everything the requests that have returned caused: an
    exact barrier. (Waiting until the socket had been quiet for 0.1 s raced the load: a
    frame that came later leaked into the next test step, and an empty answer proved
    nothing.) Pushes from the simulator's own timers still need a wait for a condition."""
    await ws.send_json({"action": "ping"})
    frames = []
    while (frame := await recv(ws)) != PONG:
        frames.append(frame)
    return frames


def _is_ack(topic: str, frame: dict[str, Any]) -> bool:
    return frame.get("group") == topic and "success" in frame


async def subscribe(ws: aiohttp.ClientWebSocketResponse, *topics: str) -> list[dict[str, Any]]:
    """Subscribe and return the acks; pushes between acks are skipped, those after the
    last ack (the snapshot of the last topic) stay on the socket."""
    await ws.send_json({"action": "subscribe", "args": list(topics)})
    return [await recv_until(ws, partial(_is_ack, topic)) for topic in topics]
