"""Real clients streaming from the Binance dialect: Zoneguard's own ``BinanceExchange``,
Binance's official SDK (``DerivativesTradingUsdsFuturesWebSocketStreams``) and ccxt pro."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import aiohttp
import ccxt.pro as ccxt_pro
from binance_clients import KEY, SECRET, move_price
from binance_common.configuration import ConfigurationWebSocketStreams
from binance_sdk_derivatives_trading_usds_futures.websocket_streams.models import (
    AccountUpdate,
    OrderTradeUpdate,
)
from binance_sdk_derivatives_trading_usds_futures.websocket_streams.websocket_streams import (
    DerivativesTradingUsdsFuturesWebSocketStreams,
)
from ws_helpers import BOUND_S, listen_key, signed_call

from zoneguard.domain.market import OrderEventKind, OrderStatus, OrderType, PriceTick
from zoneguard.domain.values import Side
from zoneguard.exchange.binance.adapter import BinanceExchange
from zoneguard.exchange.binance.settings import BinanceSettings
from zoneguard.exchange.port import OrderRequest
from zoneguard.sim.server import SimServer

T = TypeVar("T")


class Inbox:
    """Handler calls collected, and a bounded wait for one that matches."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = asyncio.Event()

    def put(self, item: Any) -> None:
        self.items.append(item)
        self._changed.set()

    async def first(self, wanted: Callable[[Any], bool], timeout: float = BOUND_S) -> Any:
        async def look() -> Any:
            while True:
                for item in self.items:
                    if wanted(item):
                        return item
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(look(), timeout)


async def test_binance_exchange_adapter_streams_prices_fills_and_positions(
    sim: SimServer, session: aiohttp.ClientSession
) -> None:
    exchange = BinanceExchange(
        BinanceSettings(
            api_key=KEY,
            api_secret=SECRET,
            rest_url=sim.base_url,
            ws_url=sim.base_url.replace("http", "ws", 1),
        )
    )
    prices, orders, positions = Inbox(), Inbox(), Inbox()
    exchange.on_price(prices.put)
    exchange.on_order(orders.put)
    exchange.on_position(positions.put)
    await exchange.start()
    try:
        await exchange.subscribe_prices("BTCUSDT")
        await exchange.subscribe_account()
        assert await exchange._market_stream.wait_up(BOUND_S)
        assert exchange._private is not None and await exchange._private.wait_up(BOUND_S)

        await move_price(session, sim, "BTCUSDT", "65200")
        tick: PriceTick = await prices.first(lambda t: t.last == Decimal(65200))
        assert tick.symbol == "BTCUSDT"

        placed = await exchange.place_order(
            OrderRequest(
                symbol="BTCUSDT",
                position_side=Side.LONG,
                reduce_only=False,
                order_type=OrderType.LIMIT,
                contracts=Decimal(2),
                price=Decimal(65000),
            )
        )
        await orders.first(lambda u: u.order.order_id == placed.order_id)
        await move_price(session, sim, "BTCUSDT", "65000")
        filled = await orders.first(
            lambda u: u.order.order_id == placed.order_id and u.fill is not None
        )
        assert filled.kind is OrderEventKind.FILL or filled.fill is not None
        assert filled.order.status is OrderStatus.FILLED
        assert filled.fill.contracts == Decimal(2)
        assert filled.fill.price == Decimal(65000)
        position = await positions.first(lambda p: p.contracts > 0)
        assert (position.symbol, position.side, position.contracts) == (
            "BTCUSDT",
            Side.LONG,
            Decimal(2),
        )
        assert position.entry_price == Decimal(65000)
    finally:
        await exchange.close()


async def test_binance_sdk_websocket_streams_market_and_user_data(
    sim: SimServer, session: aiohttp.ClientSession
) -> None:
    """The official SDK pointed at the simulator by ``stream_url``: it opens
    ``/market/stream``, ``/public/stream`` and ``/private/stream`` and subscribes there."""
    config = ConfigurationWebSocketStreams(stream_url=sim.binance_ws_url, reconnect_delay=100)
    streams = DerivativesTradingUsdsFuturesWebSocketStreams(config)
    connection = await streams.create_connection()
    trades, tickers, events = Inbox(), Inbox(), Inbox()
    try:
        agg = await connection.aggregate_trade_streams(symbol="btcusdt")
        agg.on("message", trades.put)
        book = await connection.individual_symbol_book_ticker_streams(symbol="btcusdt")
        book.on("message", tickers.put)
        user = await connection.user_data(await listen_key(session, sim))
        user.on("message", events.put)
        listed = await connection.list_subscribe()
        assert listed  # answered by LIST_SUBSCRIPTIONS on each route

        await move_price(session, sim, "BTCUSDT", "65300")
        trade = await trades.first(lambda t: t.p == "65300")
        assert trade.s == "BTCUSDT"
        ticker = await tickers.first(lambda t: t.b == "65299.9")
        assert ticker.a == "65300.1"

        await signed_call(
            session,
            sim,
            "POST",
            "/fapi/v1/order",
            symbol="BTCUSDT",
            side="BUY",
            type="MARKET",
            quantity="0.002",
        )
        trade_update = await events.first(
            lambda e: (
                isinstance(e.actual_instance, OrderTradeUpdate) and e.actual_instance.o.x == "TRADE"
            )
        )
        o = trade_update.actual_instance.o
        assert (o.s, o.X, o.l, o.z) == ("BTCUSDT", "FILLED", "0.002", "0.002")
        account = await events.first(lambda e: isinstance(e.actual_instance, AccountUpdate))
        assert account.actual_instance.a.P[0].pa == "0.002"
    finally:
        await connection.close_connection(close_session=True)


async def test_ccxt_pro_watches_trades_and_orders(
    sim: SimServer, session: aiohttp.ClientSession
) -> None:
    exchange = ccxt_pro.binanceusdm({"apiKey": KEY, "secret": SECRET})
    for name, url in list(exchange.urls["api"].items()):
        if isinstance(url, str):
            path = url.split("://", 1)[1].split("/", 1)[1]
            exchange.urls["api"][name] = f"{sim.base_url}/{path}"
    exchange.urls["api"]["ws"] = {"linear": f"{sim.binance_ws_url}/ws"}
    exchange.options["fetchCurrencies"] = False
    try:
        await exchange.load_markets()
        watching = asyncio.create_task(exchange.watch_trades("BTC/USDT:USDT"))
        orders = asyncio.create_task(exchange.watch_orders("BTC/USDT:USDT"))
        hub = sim._binance_ws
        assert hub is not None

        def subscribed() -> bool:
            public = any(c.subscribed.get("btcusdt@trade") for c in hub.clients)
            return public and any(c.listen_key for c in hub.clients)

        for _ in range(100):  # bounded: until ccxt's sockets are up and subscribed
            if subscribed():
                break
            await asyncio.sleep(0.05)
        assert subscribed()
        await move_price(session, sim, "BTCUSDT", "65400")
        trades = await asyncio.wait_for(watching, BOUND_S)
        assert trades[-1]["price"] == 65400
        await signed_call(
            session,
            sim,
            "POST",
            "/fapi/v1/order",
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.002",
            price="60000",
        )
        seen = await asyncio.wait_for(orders, BOUND_S)
        assert seen[-1]["status"] == "open"
        assert seen[-1]["price"] == 60000
    finally:
        await exchange.close()
