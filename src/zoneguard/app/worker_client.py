"""The seed's WsWorkerClient: the app's only way to the worker (HTTP, never an import).

* Timeouts on every call (connect at most 3 s, the whole call ``timeout_s``).
* Retries only where a repeat cannot do harm: ``place-order`` and ``monitor-position``
  are idempotent by ``id`` on the worker, reads are reads. ``cancel`` and ``close`` are
  sent once.
* :class:`WorkerUnavailable` when the worker cannot be reached, times out, answers 5xx
  (or 408/429: "later"); the bus retries those. :class:`WorkerMisconfigured` (a kind of
  unavailable) for 401/403, and for a 404 on a route that always exists: a wrong token or
  URL says nothing about the order, so the bus retries and finally parks the message where
  an operator retries it after fixing the configuration. :class:`WorkerRejected` for any
  other 4xx: the worker looked at the request and said no, which a retry will not change.
* ``Authorization: Bearer <ZONEGUARD_API_TOKEN>`` when a token is set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

RETRYABLE_4XX = frozenset({408, 425, 429})
MISCONFIGURED_4XX = frozenset({401, 403})


class WorkerError(Exception):
    """Base of the client's failures."""


class WorkerUnavailable(WorkerError):
    """The worker could not be reached or could not answer now; try again later."""


class WorkerMisconfigured(WorkerUnavailable):
    """The worker (or a proxy before it) refused the app itself: a token or URL to fix.
    Not retried inside one call (the answer will not change in a second)."""


class WorkerRejected(WorkerError):
    """The worker refused the request (a 4xx): definitive."""

    def __init__(self, status: int, message: str, body: Mapping[str, Any] | None = None) -> None:
        self.status = status
        self.message = message
        self.body: dict[str, Any] = dict(body or {})
        super().__init__(f"HTTP {status}: {message}")

    @property
    def unknown_order(self) -> bool:
        """The worker's own "no such order" (a JSON ``ok: false`` 404), not a proxy's page."""
        return self.status == 404 and self.body.get("ok") is False


class WsWorkerClient:
    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8089",
        *,
        api_token: str | None = None,
        timeout_s: float = 10.0,
        attempts: int = 3,
        retry_delay_s: float = 0.25,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be >= 1")
        self.base_url = base_url.rstrip("/")
        self._token = api_token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(3.0, timeout_s))
        self._attempts = attempts
        self._retry_delay_s = retry_delay_s
        self._session = session
        self._owns_session = session is None

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    # -- the worker's control API
    async def place_order(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /api/place-order`` with the seed's payload (idempotent by ``id``)."""
        return await self._call("POST", "/api/place-order", payload, retry=True, route_exists=True)

    async def monitor_position(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /api/monitor-position`` (idempotent by ``id``)."""
        return await self._call(
            "POST", "/api/monitor-position", payload, retry=True, route_exists=True
        )

    async def order(self, order_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/api/orders/{quote(order_id, safe='')}", retry=True)

    async def cancel(self, order_id: str) -> dict[str, Any]:
        return await self._call("POST", f"/api/orders/{quote(order_id, safe='')}/cancel")

    async def close_position(self, order_id: str) -> dict[str, Any]:
        return await self._call("POST", f"/api/orders/{quote(order_id, safe='')}/close")

    async def klines(self, symbol: str, tf: str, limit: int) -> dict[str, Any]:
        path = f"/api/market/{quote(symbol, safe='')}/klines?tf={quote(tf)}&limit={limit}"
        return await self._call("GET", path, retry=True)

    async def status(self) -> dict[str, Any]:
        return await self._call("GET", "/status", retry=True)

    async def contract(self, symbol: str, *, timeout_s: float | None = None) -> dict[str, Any]:
        """``GET /api/market/{symbol}/contract``, asked once: the caller is an API request
        that goes on without the answer rather than wait for retries."""
        path = f"/api/market/{quote(symbol, safe='')}/contract"
        return await self._call("GET", path, timeout_s=timeout_s)

    # -- plumbing
    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    async def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        retry: bool = False,
        route_exists: bool = False,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """``route_exists``: the path names no order, so a 404 means a wrong base URL.
        ``timeout_s``: this call's bound, instead of the client's."""
        attempts = self._attempts if retry else 1
        limits = self._timeout
        if timeout_s is not None:
            limits = aiohttp.ClientTimeout(total=timeout_s, connect=min(3.0, timeout_s))
        last: WorkerUnavailable | None = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._retry_delay_s * 2 ** (attempt - 1))
            try:
                return await self._once(method, path, body, route_exists, limits)
            except WorkerMisconfigured:
                raise
            except WorkerUnavailable as exc:
                last = exc
        assert last is not None
        raise last

    async def _once(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        route_exists: bool,
        limits: aiohttp.ClientTimeout,
    ) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        data = None if body is None else orjson.dumps(dict(body))
        url = self.base_url + path
        try:
            async with self._session.request(
                method,
                url,
                data=data,
                headers=self._headers(),
                timeout=limits,
                allow_redirects=False,
            ) as reply:
                raw = await reply.read()
                status = reply.status
        except TimeoutError as exc:
            raise WorkerUnavailable(f"{method} {url}: no answer in time") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise WorkerUnavailable(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        parsed = _json_object(raw)
        if 200 <= status < 300:
            if parsed is None:
                raise WorkerUnavailable(f"{method} {url}: HTTP {status} without a JSON object")
            return parsed
        message = _error_text(parsed, raw, status)
        if status >= 500 or status in RETRYABLE_4XX:
            raise WorkerUnavailable(f"{method} {url}: HTTP {status}: {message}")
        if status in MISCONFIGURED_4XX or (status == 404 and route_exists):
            raise WorkerMisconfigured(
                f"{method} {url}: HTTP {status}: {message} "
                "(check WS_WORKER_BASE_URL and ZONEGUARD_API_TOKEN)"
            )
        raise WorkerRejected(status, message, parsed)


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _error_text(parsed: Mapping[str, Any] | None, raw: bytes, status: int) -> str:
    if parsed is not None:
        for key in ("error", "detail", "message"):
            value = parsed.get(key)
            if isinstance(value, str) and value:
                return value
    text = raw[:300].decode("utf-8", "replace").strip()
    return text or f"HTTP {status}"
