"""The harness's own callback endpoint: records every callback the worker delivers and,
for orders that came through the app, passes it on to the app (the app's answer is the
worker's answer). It can be down for a while: answering 503, or with its port closed."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from aiohttp import web

from zoneguard.chaos.processes import free_port

FORWARDED_HEADERS = ("content-type", "x-zoneguard-signature", "x-zoneguard-timestamp")


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.bodies: dict[str, list[dict[str, Any]]] = {}
        """Order id -> callback bodies acknowledged (2xx), in arrival order."""
        self.forward_to: str | None = None
        """The app's base URL: callbacks of :attr:`forwarded` orders go there."""
        self.forwarded: set[str] = set()
        self.down: str | None = None
        """None (up), ``"503"`` or ``"closed"``."""
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        await self._listen()

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()

    async def go_down(self, mode: str) -> None:
        self.down = mode
        if mode == "closed" and self._site is not None:
            await self._site.stop()
            self._site = None

    async def come_back(self) -> None:
        if self._site is None and self._runner is not None:
            await self._listen()
        self.down = None

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def of(self, order_id: str) -> list[dict[str, Any]]:
        return list(self.bodies.get(order_id, []))

    def has_final(self, order_id: str, finals: frozenset[str]) -> bool:
        return any(b.get("status") in finals for b in self.bodies.get(order_id, []))

    async def _handle(self, request: web.Request) -> web.Response:
        if self.down is not None:
            return web.json_response({"error": "receiver down (chaos)"}, status=503)
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return web.json_response({"error": "body: not JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "body: not an object"}, status=400)
        order_id = str(body.get("order_id") or body.get("position_id") or "")
        status, answer = 200, b'{"status":"ok"}'
        if order_id in self.forwarded and self.forward_to is not None:
            status, answer = await self._forward(request, raw)
        if 200 <= status < 300:
            self.bodies.setdefault(order_id, []).append(body)
        return web.Response(body=answer, status=status, content_type="application/json")

    async def _forward(self, request: web.Request, raw: bytes) -> tuple[int, bytes]:
        assert self._session is not None
        assert self.forward_to is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED_HEADERS}
        try:
            async with self._session.post(
                self.forward_to + request.path, data=raw, headers=headers
            ) as reply:
                return reply.status, await reply.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 502, orjson.dumps({"error": f"app unreachable: {exc}"})
