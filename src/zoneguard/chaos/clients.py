"""HTTP to the three processes, as any user reaches them: the simulator's control API,
the worker's control API and the app's API. A process that is down raises
:class:`Unreachable`; callers decide whether to try again."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import orjson

REQUEST_TIMEOUT_S = 15.0


class Unreachable(Exception):
    """No answer (connection refused or reset, timeout): the process may be restarting."""


class Http:
    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, headers: dict[str, str] | None = None
    ) -> None:
        self.session = session
        self.base_url = base_url
        self.headers = dict(headers or {})

    async def request(
        self,
        method: str,
        path: str,
        body: object = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        sent = {**self.headers, **(headers or {})}
        data = None
        if body is not None:
            data = orjson.dumps(body)
            sent["Content-Type"] = "application/json"
        try:
            async with self.session.request(
                method,
                self.base_url + path,
                data=data,
                headers=sent,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
            ) as reply:
                raw = await reply.read()
                try:
                    return reply.status, orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    return reply.status, raw.decode(errors="replace")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unreachable(f"{method} {self.base_url}{path}: {exc!r}") from exc


class SimClient(Http):
    """``/_sim/...``: move prices, fill, inject faults, read the exchange's own state."""

    async def price(self, symbol: str, price: Decimal) -> None:
        status, body = await self.request(
            "POST", "/_sim/price", {"symbol": symbol, "price": str(price)}
        )
        if status != 200:
            raise RuntimeError(f"sim refused the price {price}: {body}")

    async def fill(self, symbol: str, order_id: str, contracts: int) -> tuple[int, Any]:
        body = {"symbol": symbol, "order_id": order_id, "contracts": contracts}
        return await self.request("POST", "/_sim/fill", body)

    async def faults(self, spec: dict[str, Any]) -> None:
        status, body = await self.request("POST", "/_sim/faults", spec)
        if status != 200:
            raise RuntimeError(f"sim refused the faults {spec}: {body}")

    async def state(self) -> dict[str, Any]:
        status, body = await self.request("GET", "/_sim/state")
        if status != 200 or not isinstance(body, dict):
            raise RuntimeError(f"sim state: {status} {body}")
        return body


class WorkerClient(Http):
    async def place(self, payload: dict[str, Any]) -> tuple[int, Any]:
        return await self.request("POST", "/api/place-order", payload)

    async def cancel(self, order_id: str) -> tuple[int, Any]:
        return await self.request("POST", f"/api/orders/{order_id}/cancel")

    async def close(self, order_id: str) -> tuple[int, Any]:
        return await self.request("POST", f"/api/orders/{order_id}/close")

    async def detail(self, order_id: str) -> tuple[int, Any]:
        return await self.request("GET", f"/api/orders/{order_id}")


class AppClient(Http):
    async def signal(self, payload: dict[str, Any], idempotency_key: str) -> tuple[int, Any]:
        return await self.request(
            "POST", "/api/signals", payload, headers={"Idempotency-Key": idempotency_key}
        )

    async def order(self, order_id: str) -> tuple[int, Any]:
        return await self.request("GET", f"/api/orders/{order_id}")

    async def cancel(self, order_id: str) -> tuple[int, Any]:
        return await self.request("POST", f"/api/orders/{order_id}/cancel")
