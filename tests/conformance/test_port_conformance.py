"""The exchange port's conformance suite: one set of tests, written once against
:class:`~zoneguard.exchange.port.ExchangePort`, that every adapter passes against its own
simulator dialect over real sockets (BitMart's and Binance's). What the worker relies on
from any venue: reference data, a post-only entry resting and filling, a maker refusal
named as such, an order found by its client id (and none when there is none), a duplicate
client id refused, a reduce-only close, an exchange-side stop that fires, and the typed
errors it meets on the way.

The REST half of the port; the streams' half joins once the Binance dialect speaks
websockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from zoneguard.domain.client_ids import client_order_id_for
from zoneguard.domain.market import OrderOrigin, OrderStatus, OrderType, TimeInForce
from zoneguard.domain.values import MarginMode, Side
from zoneguard.exchange.binance.adapter import BinanceExchange
from zoneguard.exchange.binance.settings import BinanceSettings
from zoneguard.exchange.bitmart.adapter import BitMartExchange
from zoneguard.exchange.bitmart.settings import BitMartSettings
from zoneguard.exchange.errors import (
    DuplicateClientOrderId,
    ExchangeError,
    PositionNotFound,
    PostOnlyWouldCross,
)
from zoneguard.exchange.port import ExchangePort, OrderRequest, StopRequest
from zoneguard.sim.config import SimConfig
from zoneguard.sim.server import SimServer

SYMBOL = "BTCUSDT"
PRICE = Decimal(65000)
KEY, SECRET, MEMO = "sim-key", "sim-secret", "sim-memo"


def _bitmart(sim: SimServer) -> ExchangePort:
    return BitMartExchange(
        BitMartSettings(
            api_key=KEY,
            api_secret=SECRET,
            api_memo=MEMO,
            rest_url=sim.base_url,
            ws_public_url=sim.ws_public_url,
            ws_private_url=sim.ws_private_url,
            order_connections=0,
        )
    )


def _binance(sim: SimServer) -> ExchangePort:
    return BinanceExchange(
        BinanceSettings(
            api_key=KEY,
            api_secret=SECRET,
            rest_url=sim.base_url,
            ws_url=sim.base_url.replace("http", "ws", 1),
        )
    )


ADAPTERS: dict[str, Callable[[SimServer], ExchangePort]] = {
    "bitmart": _bitmart,
    "binance": _binance,
}


class Venue:
    """One simulator dialect and the adapter that speaks it, plus the simulator's own
    control API to move the market."""

    def __init__(self, sim: SimServer, port: ExchangePort, http: aiohttp.ClientSession) -> None:
        self.name = port.venue
        self.sim = sim
        self.port = port
        self.http = http
        self._ids = 0

    async def price(self, price: Decimal) -> None:
        url = f"{self.sim.base_url}/_sim/price"
        async with self.http.post(url, json={"symbol": SYMBOL, "price": str(price)}) as reply:
            assert reply.status == 200, await reply.text()

    def cid(self, intent: str) -> str:
        self._ids += 1
        return client_order_id_for(f"conformance-{self._ids}", intent)

    async def held(self, side: Side = Side.LONG) -> Decimal:
        positions = await self.port.positions(SYMBOL)
        return sum((p.contracts for p in positions if p.side is side), Decimal(0))


@pytest.fixture(params=sorted(ADAPTERS))
async def venue(request: pytest.FixtureRequest) -> AsyncIterator[Venue]:
    name: str = request.param
    config = SimConfig(
        venue=name, port=0, api_key=KEY, api_secret=SECRET, api_memo=MEMO, prices={SYMBOL: PRICE}
    )
    async with SimServer(config) as sim, aiohttp.ClientSession() as http:
        port = ADAPTERS[name](sim)
        await port.start()
        try:
            yield Venue(sim, port, http)
        finally:
            await port.close()


def entry(venue: Venue, price: Decimal, contracts: int = 10, **fields: Any) -> OrderRequest:
    values: dict[str, Any] = {
        "symbol": SYMBOL,
        "position_side": Side.LONG,
        "reduce_only": False,
        "order_type": OrderType.LIMIT,
        "contracts": Decimal(contracts),
        "price": price,
        "time_in_force": TimeInForce.POST_ONLY,
        "leverage": Decimal(5),
        "margin_mode": MarginMode.ISOLATED,
        "client_order_id": venue.cid("entry"),
    }
    values.update(fields)
    return OrderRequest(**values)


def close(venue: Venue, contracts: int, side: Side = Side.LONG) -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL,
        position_side=side,
        reduce_only=True,
        order_type=OrderType.MARKET,
        contracts=Decimal(contracts),
        client_order_id=venue.cid("close"),
    )


async def eventually(check: Callable[[], Any], what: str, timeout_s: float = 5.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_reference_data_and_the_last_price(venue: Venue) -> None:
    spec = await venue.port.contract(SYMBOL)
    assert spec.symbol == SYMBOL and spec.tick_size > 0 and spec.contract_size > 0
    assert spec.min_volume >= 1 and spec.lot_size > 0
    await venue.price(Decimal(65100))
    assert await venue.port.last_price(SYMBOL) == Decimal(65100)
    await venue.port.set_leverage(SYMBOL, Decimal(5), MarginMode.ISOLATED)


async def test_a_post_only_entry_rests_is_found_by_its_client_id_then_cancelled(
    venue: Venue,
) -> None:
    request = entry(venue, Decimal(64000))
    placed = await venue.port.place_order(request)
    assert request.client_order_id is not None
    found = await venue.port.find_order(SYMBOL, request.client_order_id)
    assert found is not None and found.order_id == placed.order_id
    assert found.status is OrderStatus.OPEN and found.position_side is Side.LONG
    assert found.contracts == 10 and found.filled_contracts == 0 and not found.reduce_only
    assert [o.order_id for o in await venue.port.open_orders(SYMBOL)] == [placed.order_id]
    await venue.port.cancel_order(SYMBOL, order_id=placed.order_id)
    cancelled = await venue.port.get_order(SYMBOL, placed.order_id)
    assert cancelled.status is OrderStatus.CANCELLED and cancelled.filled_contracts == 0
    assert await venue.port.open_orders(SYMBOL) == []


async def test_a_post_only_entry_that_would_take_never_takes(venue: Venue) -> None:
    """Refused as a maker refusal (Binance's -5022, and BitMart's when so configured), or
    accepted and cancelled at once unfilled (BitMart documents neither): never a fill."""
    try:
        placed = await venue.port.place_order(entry(venue, Decimal(66000)))
    except PostOnlyWouldCross:
        return
    assert venue.name != "binance", "Binance refuses a GTX that would take (-5022)"
    order = await venue.port.get_order(SYMBOL, placed.order_id)
    assert order.status is OrderStatus.CANCELLED and order.filled_contracts == 0
    assert await venue.held() == 0


async def test_an_unknown_client_id_is_absent_not_an_error(venue: Venue) -> None:
    assert await venue.port.find_order(SYMBOL, venue.cid("never-sent")) is None


async def test_a_resent_client_id_is_refused_as_a_duplicate(venue: Venue) -> None:
    request = entry(venue, Decimal(64000))
    await venue.port.place_order(request)
    with pytest.raises(DuplicateClientOrderId):
        await venue.port.place_order(request)


async def test_an_entry_fills_when_the_price_trades_through_then_closes_reduce_only(
    venue: Venue,
) -> None:
    placed = await venue.port.place_order(entry(venue, Decimal(64900)))
    await venue.price(Decimal(64800))

    async def filled() -> bool:
        order = await venue.port.get_order(SYMBOL, placed.order_id)
        return order.status is OrderStatus.FILLED

    await eventually(filled, "the entry filled")
    order = await venue.port.get_order(SYMBOL, placed.order_id)
    assert order.filled_contracts == 10 and order.avg_fill_price == Decimal(64900)
    assert await venue.held() == 10
    closed = await venue.port.place_order(close(venue, 4))
    after = await venue.port.get_order(SYMBOL, closed.order_id)
    assert after.reduce_only and after.position_side is Side.LONG
    assert await venue.held() == 6
    await venue.port.place_order(close(venue, 6))
    assert await venue.held() == 0


async def test_a_reduce_only_close_without_a_position_is_named(venue: Venue) -> None:
    with pytest.raises((PositionNotFound, ExchangeError)) as caught:
        await venue.port.place_order(close(venue, 3))
    assert isinstance(caught.value, PositionNotFound), repr(caught.value)


async def test_an_exchange_side_stop_is_listed_fires_and_leaves_the_position_flat(
    venue: Venue,
) -> None:
    await venue.port.place_order(entry(venue, Decimal(64900)))
    await venue.price(Decimal(64800))
    await eventually(lambda: venue.held(), "the position")
    stop_id = await venue.port.place_stop(
        StopRequest(SYMBOL, Side.LONG, OrderOrigin.STOP_LOSS, Decimal(64000))
    )
    take_id = await venue.port.place_stop(
        StopRequest(SYMBOL, Side.LONG, OrderOrigin.TAKE_PROFIT, Decimal(70000))
    )
    stops = {s.order_id: s for s in await venue.port.open_stops(SYMBOL)}
    assert set(stops) == {stop_id, take_id}
    assert stops[stop_id].origin is OrderOrigin.STOP_LOSS
    assert stops[stop_id].trigger_price == Decimal(64000)
    assert stops[stop_id].position_side is Side.LONG
    await venue.port.cancel_stop(SYMBOL, order_id=take_id)
    assert [s.order_id for s in await venue.port.open_stops(SYMBOL)] == [stop_id]
    await venue.price(Decimal(63900))

    async def flat() -> bool:
        return await venue.held() == 0

    await eventually(flat, "the stop closing the position")
