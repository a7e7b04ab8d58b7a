"""The simulator in its Binance dialect, and real Binance clients pointed at it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp
import ccxt.async_support as ccxt_async
from binance_common.configuration import ConfigurationRestAPI
from binance_sdk_derivatives_trading_usds_futures.derivatives_trading_usds_futures import (
    DerivativesTradingUsdsFutures,
)
from binance_sdk_derivatives_trading_usds_futures.rest_api.rest_api import (
    DerivativesTradingUsdsFuturesRestAPI,
)

from zoneguard.sim.config import SimConfig
from zoneguard.sim.server import SimServer

KEY = "sim-key"
SECRET = "sim-secret"
T = TypeVar("T")


def binance_config() -> SimConfig:
    return SimConfig(
        venue="binance",
        port=0,
        api_key=KEY,
        api_secret=SECRET,
        prices={"BTCUSDT": Decimal(65000), "ETHUSDT": Decimal(3000)},
    )


def ccxt_client(sim: SimServer) -> Any:
    """ccxt's async ``binanceusdm`` with every host pointed at the simulator (a request
    that strays to a path the simulator lacks fails with a 404, never the internet)."""
    exchange = ccxt_async.binanceusdm({"apiKey": KEY, "secret": SECRET})
    for name, url in list(exchange.urls["api"].items()):
        path = url.split("://", 1)[1].split("/", 1)[1]
        exchange.urls["api"][name] = f"{sim.base_url}/{path}"
    exchange.options["fetchCurrencies"] = False  # sapi wallet config: not a futures endpoint
    return exchange


def sdk_client(sim: SimServer, key: str = KEY) -> DerivativesTradingUsdsFuturesRestAPI:
    """Binance's official SDK (synchronous, every parameter in the query string)."""
    config = ConfigurationRestAPI(
        api_key=key, api_secret=SECRET, base_path=sim.base_url, retries=0, timeout=5000
    )
    return DerivativesTradingUsdsFutures(config_rest_api=config).rest_api


async def in_thread(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking SDK call off the event loop the simulator serves on."""
    return await asyncio.to_thread(call, *args, **kwargs)


def signed(params: dict[str, Any], secret: str = SECRET) -> str:
    text = urlencode(params)
    sig = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    return f"{text}&signature={sig}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def raw(
    session: aiohttp.ClientSession,
    sim: SimServer,
    method: str,
    path: str,
    query: str = "",
    body: str = "",
    key: str = KEY,
) -> tuple[int, Any, dict[str, str]]:
    """One hand-made request: (status, JSON body, headers)."""
    headers = {"X-MBX-APIKEY": key}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    url = f"{sim.base_url}{path}" + (f"?{query}" if query else "")
    async with session.request(method, url, data=body or None, headers=headers) as response:
        return response.status, await response.json(), dict(response.headers)


async def move_price(
    session: aiohttp.ClientSession, sim: SimServer, symbol: str, price: str
) -> Any:
    async with session.post(
        f"{sim.base_url}/_sim/price", json={"symbol": symbol, "price": price}
    ) as response:
        assert response.status == 200
        return await response.json()
