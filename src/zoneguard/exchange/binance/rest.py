"""Binance USDⓈ-M REST client: one pooled keep-alive session, signed as sent.

Methods return Binance's own JSON (``parse.py`` turns it into domain types); every failure
is a typed exception from ``codes.py``. The clock is measured against ``/fapi/v1/time``
and a request refused for its timestamp (-1021, -5028: nothing was executed) is sent again
once, after a fresh measurement, with the same parameters (so the same client order id).
Credentials never reach a log line or an exception message: errors name the method and
path only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import orjson

from zoneguard import __version__
from zoneguard.exchange.binance.codes import CLOCK_CODES, error_for_reply
from zoneguard.exchange.binance.signing import (
    DEFAULT_RECV_WINDOW_MS,
    encode_params,
    key_headers,
    signed_query,
)
from zoneguard.exchange.errors import ExchangeError, UnknownOutcome

log = logging.getLogger(__name__)

USER_AGENT = f"zoneguard/{__version__}"
Params = Sequence[tuple[str, str]]

# Paths (research §A.2).
TIME = "/fapi/v1/time"
EXCHANGE_INFO = "/fapi/v1/exchangeInfo"
TICKER_PRICE = "/fapi/v1/ticker/price"
KLINES = "/fapi/v1/klines"
ORDER = "/fapi/v1/order"
OPEN_ORDERS = "/fapi/v1/openOrders"
ALL_OPEN_ORDERS = "/fapi/v1/allOpenOrders"
ALGO_ORDER = "/fapi/v1/algoOrder"
OPEN_ALGO_ORDERS = "/fapi/v1/openAlgoOrders"
POSITION_RISK = "/fapi/v3/positionRisk"
BALANCE = "/fapi/v3/balance"
LEVERAGE = "/fapi/v1/leverage"
MARGIN_TYPE = "/fapi/v1/marginType"
POSITION_MODE = "/fapi/v1/positionSide/dual"
LISTEN_KEY = "/fapi/v1/listenKey"

USED_WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
WEIGHT_LIMIT_PER_MINUTE = 2400
"""``exchangeInfo.rateLimits`` REQUEST_WEIGHT on production (research §A.2)."""


class BinanceRestClient:
    """Typed access to the USDⓈ-M endpoints the exchange port needs."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        timeout_s: float = 10.0,
        recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._api_secret = api_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.recv_window_ms = recv_window_ms
        self.clock_offset_ms = 0
        """Server time minus ours, measured by :meth:`sync_clock`."""
        self.used_weight = 0
        """The last ``X-MBX-USED-WEIGHT-1M`` Binance reported."""
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                headers={"User-Agent": USER_AGENT},
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- clock
    def now_ms(self) -> int:
        """Our clock corrected by the last measured offset: the ``timestamp`` to sign."""
        return int(time.time() * 1000) + self.clock_offset_ms

    async def sync_clock(self) -> int:
        """Measure the offset to Binance's clock (half the round trip counted)."""
        sent = time.time() * 1000
        reply = await self.public("GET", TIME)
        received = time.time() * 1000
        server = int(reply["serverTime"])
        self.clock_offset_ms = int(server - (sent + received) / 2)
        return server

    # -- transport
    async def public(self, method: str, path: str, params: Params = ()) -> Any:
        query = encode_params(params)
        return await self._send(method, path, query, {})

    async def keyed(self, method: str, path: str, params: Params = ()) -> Any:
        """API key, no signature: the listenKey calls."""
        return await self._send(method, path, encode_params(params), key_headers(self._api_key))

    async def signed(self, method: str, path: str, params: Params = ()) -> Any:
        """A SIGNED call; sent once more after a clock resync if Binance refused its
        timestamp (it executed nothing)."""
        for attempt in (1, 2):
            query = signed_query(params, self._api_secret, self.now_ms(), self.recv_window_ms)
            try:
                return await self._send(method, path, query, key_headers(self._api_key))
            except ExchangeError as exc:
                if exc.code not in CLOCK_CODES or attempt == 2:
                    raise
                log.warning("binance refused the timestamp of %s %s: resyncing", method, path)
                await self.sync_clock()
        raise AssertionError("unreachable")

    async def _send(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> Any:
        if self._session is None:
            raise RuntimeError("BinanceRestClient.start() was not awaited")
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        context = f"{method} {path}"
        try:
            async with self._session.request(method, url, headers=headers) as response:
                body = await response.read()
                status = response.status
                self._observe(response.headers)
                retry_after = _retry_after(response.headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The request may have reached Binance: an order's fate is unknown.
            raise UnknownOutcome(f"{context}: {type(exc).__name__}") from exc
        if 200 <= status < 300:
            try:
                return orjson.loads(body) if body else None
            except orjson.JSONDecodeError as exc:
                raise UnknownOutcome(f"{context}: unreadable success body") from exc
        raise error_for_reply(status, body, context=context, retry_after_s=retry_after)

    def _observe(self, headers: Mapping[str, str]) -> None:
        raw = headers.get(USED_WEIGHT_HEADER)
        if raw is not None and raw.isdigit():
            self.used_weight = int(raw)
            if self.used_weight > WEIGHT_LIMIT_PER_MINUTE * 0.8:
                log.warning("binance request weight at %s of %s a minute", raw, 2400)

    # -- endpoints
    async def exchange_info(self) -> Any:
        return await self.public("GET", EXCHANGE_INFO)

    async def ticker_price(self, symbol: str) -> Any:
        return await self.public("GET", TICKER_PRICE, [("symbol", symbol)])

    async def klines(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> Any:
        params = [("symbol", symbol), ("interval", interval)]
        params += [("startTime", str(start_ms)), ("endTime", str(end_ms)), ("limit", "1500")]
        return await self.public("GET", KLINES, params)

    async def new_order(self, params: Params) -> Any:
        return await self.signed("POST", ORDER, params)

    async def query_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Any:
        return await self.signed("GET", ORDER, _order_ref(symbol, order_id, client_order_id))

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Any:
        return await self.signed("DELETE", ORDER, _order_ref(symbol, order_id, client_order_id))

    async def cancel_all(self, symbol: str) -> Any:
        return await self.signed("DELETE", ALL_OPEN_ORDERS, [("symbol", symbol)])

    async def open_orders(self, symbol: str | None = None) -> Any:
        return await self.signed("GET", OPEN_ORDERS, [("symbol", symbol)] if symbol else [])

    async def new_algo_order(self, params: Params) -> Any:
        return await self.signed("POST", ALGO_ORDER, [("algoType", "CONDITIONAL"), *params])

    async def cancel_algo_order(
        self, *, algo_id: str | None = None, client_algo_id: str | None = None
    ) -> Any:
        return await self.signed("DELETE", ALGO_ORDER, _algo_ref(algo_id, client_algo_id))

    async def query_algo_order(
        self, *, algo_id: str | None = None, client_algo_id: str | None = None
    ) -> Any:
        return await self.signed("GET", ALGO_ORDER, _algo_ref(algo_id, client_algo_id))

    async def open_algo_orders(self, symbol: str | None = None) -> Any:
        return await self.signed("GET", OPEN_ALGO_ORDERS, [("symbol", symbol)] if symbol else [])

    async def position_risk(self, symbol: str | None = None) -> Any:
        return await self.signed("GET", POSITION_RISK, [("symbol", symbol)] if symbol else [])

    async def balance(self) -> Any:
        return await self.signed("GET", BALANCE)

    async def set_leverage(self, symbol: str, leverage: int) -> Any:
        return await self.signed(
            "POST", LEVERAGE, [("symbol", symbol), ("leverage", str(leverage))]
        )

    async def set_margin_type(self, symbol: str, margin_type: str) -> Any:
        return await self.signed(
            "POST", MARGIN_TYPE, [("symbol", symbol), ("marginType", margin_type)]
        )

    async def position_mode(self) -> Any:
        return await self.signed("GET", POSITION_MODE)

    async def new_listen_key(self) -> str:
        reply = await self.keyed("POST", LISTEN_KEY)
        return str(reply["listenKey"])

    async def keep_alive_listen_key(self) -> None:
        await self.keyed("PUT", LISTEN_KEY)

    async def close_listen_key(self) -> None:
        await self.keyed("DELETE", LISTEN_KEY)


def _order_ref(symbol: str, order_id: str | None, client_order_id: str | None) -> Params:
    if order_id is not None:
        return [("symbol", symbol), ("orderId", order_id)]
    if client_order_id is not None:
        return [("symbol", symbol), ("origClientOrderId", client_order_id)]
    raise ValueError("an order is named by order_id or client_order_id")


def _algo_ref(algo_id: str | None, client_algo_id: str | None) -> Params:
    if algo_id is not None:
        return [("algoId", algo_id)]
    if client_algo_id is not None:
        return [("clientAlgoId", client_algo_id)]
    raise ValueError("an algo order is named by algo_id or client_algo_id")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("Retry-After")
    try:
        return None if raw is None else float(raw)
    except ValueError:
        return None
