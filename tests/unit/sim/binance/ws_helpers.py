"""Plain aiohttp websocket clients of the Binance dialect, and bounded waits on them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
from binance_clients import now_ms, raw, signed

from zoneguard.sim.server import SimServer

BOUND_S = 5.0
"""The longest any test waits for a push that must come."""
QUIET_S = 0.3
"""How long a test listens to show that a push does not come."""


def ws_url(sim: SimServer, path: str) -> str:
    return f"{sim.binance_ws_url}{path}"


async def next_frame(ws: aiohttp.ClientWebSocketResponse, timeout: float = BOUND_S) -> Any:
    """The next JSON frame; fails on a close or when none comes within ``timeout``."""
    msg = await ws.receive(timeout=timeout)
    assert msg.type is aiohttp.WSMsgType.TEXT, f"expected a text frame, got {msg}"
    return orjson.loads(msg.data)


async def until(
    ws: aiohttp.ClientWebSocketResponse,
    wanted: Callable[[Any], bool],
    timeout: float = BOUND_S,
) -> Any:
    """The first frame ``wanted`` accepts (others are skipped), within ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await next_frame(ws, max(deadline - loop.time(), 0.01))
        if wanted(frame):
            return frame


async def nothing_comes(ws: aiohttp.ClientWebSocketResponse, within: float = QUIET_S) -> None:
    """No frame (but pings aiohttp answers by itself) within ``within`` seconds. The bound
    is outside ``receive``: aiohttp restarts its own timeout after each ping it answers."""
    try:
        msg = await asyncio.wait_for(ws.receive(), within)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected frame {msg}")


async def request(ws: aiohttp.ClientWebSocketResponse, method: str, *params: str, id: int) -> Any:
    """Send a SUBSCRIBE-style request and return its answer (pushes before it skipped)."""
    frame: dict[str, Any] = {"method": method, "id": id}
    if params:
        frame["params"] = list(params)
    await ws.send_str(orjson.dumps(frame).decode())
    return await until(ws, lambda f: isinstance(f, dict) and f.get("id") == id)


def event(kind: str, **o_fields: object) -> Callable[[Any], bool]:
    """A predicate: a user-data event ``kind`` whose ``o`` has ``o_fields``."""

    def matches(frame: Any) -> bool:
        if not isinstance(frame, dict) or frame.get("e") != kind:
            return False
        o = frame.get("o", {})
        return all(o.get(k) == v for k, v in o_fields.items())

    return matches


async def listen_key(session: aiohttp.ClientSession, sim: SimServer) -> str:
    status, body, _ = await raw(session, sim, "POST", "/fapi/v1/listenKey")
    assert status == 200
    return str(body["listenKey"])


async def signed_call(
    session: aiohttp.ClientSession, sim: SimServer, method: str, path: str, **params: object
) -> Any:
    """A signed request with its parameters in the form body (ccxt's style)."""
    body = signed({**params, "timestamp": now_ms()})
    status, answer, _ = await raw(session, sim, method, path, body=body)
    assert status == 200, answer
    return answer
