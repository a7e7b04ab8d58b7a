"""The BitMart client against the BitMart-protocol simulator, over real loopback sockets.

The two packages never import each other: they meet only on the wire, as the client
would meet BitMart itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from zoneguard.domain.market import (
    KlineBar,
    OrderEventKind,
    OrderOrigin,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionInfo,
    PriceTick,
    TimeInForce,
)
from zoneguard.domain.values import MarginMode, Side
from zoneguard.exchange.bitmart import BitMartExchange, BitMartSettings, client_order_id_for
from zoneguard.exchange.errors import (
    AuthenticationFailed,
    DuplicateClientOrderId,
    InsufficientBalance,
    InvalidRequest,
    OrderNotFound,
    PostOnlyWouldCross,
    UnknownOutcome,
)
from zoneguard.exchange.port import OrderRequest, StopRequest
from zoneguard.sim import SimConfig, SimServer

KEY, SECRET, MEMO = "it-key", "it-secret-0123456789", "it-memo"
SYMBOL = "BTCUSDT"
D = Decimal


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    config = SimConfig(
        port=0,
        api_key=KEY,
        api_secret=SECRET,
        api_memo=MEMO,
        prices={SYMBOL: D("65000")},
        post_only_cross="reject",
    )
    server = SimServer(config)
    await server.start()
    yield server
    await server.stop()


def settings_for(sim: SimServer, *, secret: str = SECRET) -> BitMartSettings:
    return BitMartSettings(
        api_key=KEY,
        api_secret=secret,
        api_memo=MEMO,
        rest_url=sim.base_url,
        ws_public_url=sim.ws_public_url,
        ws_private_url=sim.ws_private_url,
        rest_timeout_s=5.0,
        ping_interval_s=1.0,
        silence_timeout_s=3.0,
        ack_timeout_s=3.0,
    )


@pytest.fixture
async def exchange(sim: SimServer) -> AsyncIterator[BitMartExchange]:
    client = BitMartExchange(settings_for(sim))
    await client.start()
    yield client
    await client.close()


async def eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def control(sim: SimServer, path: str, body: dict[str, Any]) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sim.base_url}{path}", json=body) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


def entry(
    price: str,
    *,
    cid: str | None = None,
    contracts: str = "10",
    tp: str | None = None,
    sl: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL,
        position_side=Side.LONG,
        reduce_only=False,
        order_type=OrderType.LIMIT,
        contracts=D(contracts),
        price=D(price),
        time_in_force=TimeInForce.POST_ONLY,
        leverage=D("10"),
        margin_mode=MarginMode.ISOLATED,
        client_order_id=cid,
        preset_take_profit=D(tp) if tp else None,
        preset_stop_loss=D(sl) if sl else None,
    )


# -- reference data ------------------------------------------------------------------------


async def test_contract_details_and_prices(exchange: BitMartExchange) -> None:
    spec = await exchange.contract(SYMBOL)
    assert spec.symbol == SYMBOL
    assert spec.tick_size == D("0.1")
    assert spec.contract_size == D("0.001")
    assert spec.lot_size == D("1")
    assert spec.min_volume == D("1")
    assert spec.max_leverage >= D("100")
    assert await exchange.contract(SYMBOL) is spec  # cached
    assert await exchange.last_price(SYMBOL) == D("65000")
    assert abs(await exchange.server_time_ms() - time.time() * 1000) < 5000


async def test_last_price_takes_turns_between_two_public_endpoints(
    exchange: BitMartExchange, sim: SimServer
) -> None:
    """Details and market trades each have their own 12-per-2-s bucket: asking both in
    turn doubles how often the silent-feed guard may ask."""
    paths = ("/contract/public/details", "/contract/public/market-trade")
    before = {path: sim.state.requests[path] for path in paths}
    sim.state.move_price(SYMBOL, D("65010.5"))
    prices = [await exchange.last_price(SYMBOL) for _ in range(4)]
    assert prices == [D("65010.5")] * 4
    assert {path: sim.state.requests[path] - before[path] for path in paths} == {
        paths[0]: 2,
        paths[1]: 2,
    }


async def test_leverage(exchange: BitMartExchange) -> None:
    await exchange.set_leverage(SYMBOL, D("10"), MarginMode.ISOLATED)
    with pytest.raises(InvalidRequest):
        await exchange.set_leverage(SYMBOL, D("1000"), MarginMode.ISOLATED)


async def test_balances(exchange: BitMartExchange) -> None:
    balances = {b.currency: b for b in await exchange.balances()}
    assert balances["USDT"].available > 0


# -- the entry -> guard -> close life cycle -------------------------------------------------


async def test_post_only_entry_with_presets_fill_push_and_market_close(
    sim: SimServer, exchange: BitMartExchange
) -> None:
    updates: list[OrderUpdate] = []
    positions: list[PositionInfo] = []
    ticks: list[PriceTick] = []
    exchange.on_order(updates.append)
    exchange.on_position(positions.append)
    exchange.on_price(ticks.append)
    await exchange.subscribe_account()
    await exchange.subscribe_prices(SYMBOL)
    await exchange.set_leverage(SYMBOL, D("10"), MarginMode.ISOLATED)

    cid = client_order_id_for("signal-1", "entry")
    placed = await exchange.place_order(entry("64900", cid=cid, tp="66000", sl="64000"))
    assert placed.order_id.isdigit()

    (resting,) = await exchange.open_orders(SYMBOL)
    assert resting.order_id == placed.order_id
    assert resting.client_order_id == cid
    assert resting.status is OrderStatus.OPEN
    assert (resting.position_side, resting.reduce_only) == (Side.LONG, False)
    assert resting.price == D("64900")
    assert resting.contracts == D("10")
    assert resting.preset_take_profit == D("66000")
    assert resting.preset_stop_loss == D("64000")

    await sim.set_price(SYMBOL, D("64900"))
    await eventually(lambda: any(t.last == D("64900") for t in ticks))
    await eventually(lambda: any(u.kind is OrderEventKind.FILL for u in updates))
    fill_update = next(u for u in updates if u.kind is OrderEventKind.FILL)
    assert fill_update.order.order_id == placed.order_id
    assert fill_update.fill is not None
    assert fill_update.fill.price == D("64900")
    assert fill_update.fill.contracts == D("10")
    assert fill_update.fill.fee > 0  # maker fee paid, positive in our terms
    await eventually(lambda: any(u.order.status is OrderStatus.FILLED for u in updates))
    await eventually(lambda: any(p.side is Side.LONG and p.contracts == 10 for p in positions))

    (position,) = await exchange.positions(SYMBOL)
    assert (position.side, position.contracts, position.entry_price) == (
        Side.LONG,
        D("10"),
        D("64900"),
    )
    stops = {s.origin: s for s in await exchange.open_stops(SYMBOL)}
    assert set(stops) == {OrderOrigin.TAKE_PROFIT, OrderOrigin.STOP_LOSS}
    assert stops[OrderOrigin.TAKE_PROFIT].trigger_price == D("66000")
    assert stops[OrderOrigin.STOP_LOSS].trigger_price == D("64000")
    assert all(s.position_side is Side.LONG for s in stops.values())

    close = OrderRequest(
        symbol=SYMBOL,
        position_side=Side.LONG,
        reduce_only=True,
        order_type=OrderType.MARKET,
        contracts=position.contracts,
        client_order_id=client_order_id_for("signal-1", "close"),
    )
    closed = await exchange.place_order(close)
    await eventually(
        lambda: any(
            u.order.order_id == closed.order_id and u.order.status is OrderStatus.FILLED
            for u in updates
        )
    )
    await eventually(lambda: positions[-1].contracts == 0)
    assert await exchange.positions(SYMBOL) == []
    assert await exchange.open_stops(SYMBOL) == []


def limit_ioc_close(price: str, contracts: int, cid: str) -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL,
        position_side=Side.LONG,
        reduce_only=True,
        order_type=OrderType.LIMIT,
        contracts=D(contracts),
        price=D(price),
        time_in_force=TimeInForce.IOC,
        client_order_id=client_order_id_for("signal-ioc", cid),
    )


async def test_limit_ioc_close_fills_what_it_can_and_cancels_the_rest(
    sim: SimServer, exchange: BitMartExchange
) -> None:
    """BitMart's mode 3: a take-profit's close. What crosses fills at once (here a thin book
    leaves 4 of 10), the rest is cancelled; one that does not cross is cancelled unfilled.
    The pushes say so as BitMart's do: accepted (action 2), fill (1), cancel (3, state 4)."""
    updates: list[OrderUpdate] = []
    exchange.on_order(updates.append)
    await exchange.subscribe_account()
    await exchange.set_leverage(SYMBOL, D("10"), MarginMode.ISOLATED)
    opening = OrderRequest(
        symbol=SYMBOL,
        position_side=Side.LONG,
        reduce_only=False,
        order_type=OrderType.MARKET,
        contracts=D(10),
        leverage=D(10),
        client_order_id=client_order_id_for("signal-ioc", "entry"),
    )
    await exchange.place_order(opening)
    await control(sim, "/_sim/faults", {"thin_book": {"contracts": 4, "reduce_only": True}})

    part = await exchange.place_order(limit_ioc_close("64990", 10, "close1"))  # bid 64999.9

    def kinds(order_id: str) -> list[OrderEventKind]:
        return [u.kind for u in updates if u.order.order_id == order_id]

    await eventually(lambda: OrderEventKind.CANCELLED in kinds(part.order_id))
    assert kinds(part.order_id) == [
        OrderEventKind.SUBMITTED,
        OrderEventKind.FILL,
        OrderEventKind.CANCELLED,
    ]
    final = updates[-1].order
    assert (final.status, final.filled_contracts) == (OrderStatus.CANCELLED, D(4))
    assert final.avg_fill_price == D("64999.9")  # at the bid: better than the limit
    looked_up = await exchange.get_order(SYMBOL, part.order_id)
    assert (looked_up.status, looked_up.filled_contracts) == (OrderStatus.CANCELLED, D(4))
    (position,) = await exchange.positions(SYMBOL)
    assert position.contracts == 6

    nothing = await exchange.place_order(limit_ioc_close("65100", 6, "close2"))  # over the bid
    await eventually(lambda: OrderEventKind.CANCELLED in kinds(nothing.order_id))
    assert kinds(nothing.order_id) == [OrderEventKind.SUBMITTED, OrderEventKind.CANCELLED]
    final = updates[-1].order
    assert (final.status, final.filled_contracts) == (OrderStatus.CANCELLED, D(0))
    (position,) = await exchange.positions(SYMBOL)
    assert position.contracts == 6
    assert await exchange.open_orders(SYMBOL) == []


# -- orders: cancel and lookups ------------------------------------------------------------


async def test_cancel_and_find_by_client_order_id(exchange: BitMartExchange) -> None:
    cid = client_order_id_for("signal-2", "entry")
    placed = await exchange.place_order(entry("60000", cid=cid))
    found = await exchange.find_order(SYMBOL, cid)
    assert found is not None
    assert found.order_id == placed.order_id
    assert found.status is OrderStatus.OPEN

    await exchange.cancel_order(SYMBOL, order_id=placed.order_id)
    cancelled = await exchange.get_order(SYMBOL, placed.order_id)
    assert cancelled.status is OrderStatus.CANCELLED
    assert cancelled.filled_contracts == 0
    assert await exchange.open_orders(SYMBOL) == []
    after = await exchange.find_order(SYMBOL, cid)  # now from the order history
    assert after is not None
    assert after.status is OrderStatus.CANCELLED

    other = client_order_id_for("signal-3", "entry")
    await exchange.place_order(entry("60100", cid=other))
    await exchange.cancel_order(SYMBOL, client_order_id=other)
    assert await exchange.open_orders(SYMBOL) == []
    with pytest.raises(OrderNotFound):
        await exchange.cancel_order(SYMBOL, order_id=placed.order_id)
    assert await exchange.find_order(SYMBOL, client_order_id_for("never", "sent")) is None


# -- refusals ------------------------------------------------------------------------------


async def test_wrong_secret_is_authentication_failed(sim: SimServer) -> None:
    client = BitMartExchange(settings_for(sim, secret="not-the-secret"))
    await client.start()
    try:
        with pytest.raises(AuthenticationFailed) as caught:
            await client.place_order(entry("60000"))
        assert "not-the-secret" not in str(caught.value)
        with pytest.raises(AuthenticationFailed):
            await client.subscribe_account()
    finally:
        await client.close()


async def test_duplicate_client_order_id(exchange: BitMartExchange) -> None:
    cid = client_order_id_for("signal-4", "entry")
    await exchange.place_order(entry("60000", cid=cid))
    with pytest.raises(DuplicateClientOrderId):
        await exchange.place_order(entry("60000", cid=cid))
    assert len(await exchange.open_orders(SYMBOL)) == 1


async def test_maker_only_that_would_cross_is_refused(exchange: BitMartExchange) -> None:
    with pytest.raises(PostOnlyWouldCross):
        await exchange.place_order(entry("65100"))
    assert await exchange.open_orders(SYMBOL) == []


async def test_injected_rejection_maps_to_its_type(
    sim: SimServer, exchange: BitMartExchange
) -> None:
    await control(sim, "/_sim/faults", {"reject_orders": {"count": 1, "code": 40027}})
    with pytest.raises(InsufficientBalance):
        await exchange.place_order(entry("60000"))
    await exchange.place_order(entry("60000"))  # the fault was for one order only


async def test_injected_503_is_unknown_outcome_and_lookup_finds_the_order(
    sim: SimServer, exchange: BitMartExchange
) -> None:
    await control(sim, "/_sim/faults", {"order_response": {"count": 1, "mode": "503"}})
    cid = client_order_id_for("signal-5", "entry")
    with pytest.raises(UnknownOutcome):
        await exchange.place_order(entry("60000", cid=cid))
    found = await exchange.find_order(SYMBOL, cid)  # the policy: ask before resending
    assert found is not None
    assert found.status is OrderStatus.OPEN


async def test_dropped_reply_is_unknown_outcome(sim: SimServer, exchange: BitMartExchange) -> None:
    await control(sim, "/_sim/faults", {"order_response": {"count": 1, "mode": "drop"}})
    cid = client_order_id_for("signal-6", "entry")
    with pytest.raises(UnknownOutcome):
        await exchange.place_order(entry("60000", cid=cid))
    with pytest.raises(DuplicateClientOrderId):  # resending the same id cannot double it
        await exchange.place_order(entry("60000", cid=cid))
    assert len(await exchange.open_orders(SYMBOL)) == 1


# -- streams survive a dropped socket ------------------------------------------------------


async def test_dropped_websockets_reconnect_and_resubscribe(
    sim: SimServer, exchange: BitMartExchange
) -> None:
    ticks: list[PriceTick] = []
    updates: list[OrderUpdate] = []
    connections: list[tuple[str, bool]] = []
    exchange.on_price(ticks.append)
    exchange.on_order(updates.append)
    exchange.on_connection(lambda name, up: connections.append((name, up)))
    await exchange.subscribe_prices(SYMBOL)
    await exchange.subscribe_account()

    await control(sim, "/_sim/faults", {"drop_ws": "all"})
    await eventually(lambda: ("public", False) in connections and ("private", False) in connections)
    await eventually(
        lambda: (
            connections.count(("public", True)) >= 2 and connections.count(("private", True)) >= 2
        )
    )
    ticks.clear()
    # Prices keep flowing: move the price until a tick arrives (the resubscription ack
    # may still be in flight when the socket reports itself up).
    for step in range(1, 50):
        await sim.set_price(SYMBOL, D(65000 + 10 * step))
        await asyncio.sleep(0.05)
        if ticks:
            break
    assert ticks, "no price after the reconnect"
    assert ticks[-1].last > D("65000")

    placed = await exchange.place_order(entry("60000"))
    await eventually(lambda: any(u.order.order_id == placed.order_id for u in updates))
    assert exchange.health().reconnects >= 2


# -- exchange-side stops and klines --------------------------------------------------------


async def open_long(sim: SimServer, exchange: BitMartExchange, **presets: str) -> None:
    await exchange.place_order(entry("64900", **presets))
    await sim.set_price(SYMBOL, D("64900"))
    await eventually_async(lambda: exchange.positions(SYMBOL), lambda rows: len(rows) == 1)


async def eventually_async(
    fetch: Callable[[], Any], check: Callable[[Any], bool], timeout_s: float = 5.0
) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await fetch()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in time: {value!r}")
        await asyncio.sleep(0.05)


async def test_preset_stop_loss_fires_on_the_exchange(
    sim: SimServer, exchange: BitMartExchange
) -> None:
    updates: list[OrderUpdate] = []
    positions: list[PositionInfo] = []
    exchange.on_order(updates.append)
    exchange.on_position(positions.append)
    await exchange.subscribe_account()
    await open_long(sim, exchange, tp="66000", sl="64000")

    await sim.set_price(SYMBOL, D("63990"))
    await eventually(
        lambda: any(
            u.order.origin is OrderOrigin.STOP_LOSS and u.order.status is OrderStatus.FILLED
            for u in updates
        )
    )
    stop_fill = next(u for u in updates if u.order.origin is OrderOrigin.STOP_LOSS)
    assert (stop_fill.order.position_side, stop_fill.order.reduce_only) == (Side.LONG, True)
    await eventually(lambda: bool(positions) and positions[-1].contracts == 0)
    assert await exchange.positions(SYMBOL) == []
    assert await exchange.open_stops(SYMBOL) == []  # the leftover TP went with the position


async def test_place_and_cancel_a_position_stop(sim: SimServer, exchange: BitMartExchange) -> None:
    await open_long(sim, exchange)
    assert await exchange.open_stops(SYMBOL) == []
    cid = client_order_id_for("signal-7", "sl")
    stop_id = await exchange.place_stop(
        StopRequest(
            symbol=SYMBOL,
            position_side=Side.LONG,
            origin=OrderOrigin.STOP_LOSS,
            trigger_price=D("63000"),
            client_order_id=cid,
        )
    )
    (stop,) = await exchange.open_stops(SYMBOL)
    assert stop.order_id == stop_id
    assert stop.client_order_id == cid
    assert (stop.origin, stop.position_side, stop.trigger_price, stop.contracts) == (
        OrderOrigin.STOP_LOSS,
        Side.LONG,
        D("63000"),
        None,
    )
    await exchange.cancel_stop(SYMBOL, order_id=stop_id)
    assert await exchange.open_stops(SYMBOL) == []


async def test_kline_stream(sim: SimServer, exchange: BitMartExchange) -> None:
    bars: list[KlineBar] = []
    exchange.on_kline(bars.append)
    await exchange.subscribe_klines(SYMBOL, ["1m", "1h"])
    await sim.set_price(SYMBOL, D("65050"))
    await eventually(lambda: {b.timeframe for b in bars if b.close == D("65050")} == {"1m", "1h"})
    assert {b.symbol for b in bars} == {SYMBOL}
    await exchange.unsubscribe_klines(SYMBOL, ["1m", "1h"])
    # The simulator reads a socket's frames in order: once the ticker subscription that
    # follows is acknowledged, the unsubscription has been done (a sleep only hoped so).
    ticks: list[PriceTick] = []
    exchange.on_price(ticks.append)
    await exchange.subscribe_prices(SYMBOL)
    await sim.set_price(SYMBOL, D("65060"))
    # The ticker shares the public socket: once the tick of a later move is in, every push
    # of the 65060 move has been read (no sleep decides it, however slow the machine).
    await sim.set_price(SYMBOL, D("65070"))
    await eventually(lambda: any(t.last == D("65070") for t in ticks))
    assert [b for b in bars if b.close in (D("65060"), D("65070"))] == []


async def test_secrets_never_reach_the_logs(
    sim: SimServer, exchange: BitMartExchange, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await exchange.subscribe_account()
    await exchange.subscribe_prices(SYMBOL)
    await exchange.place_order(entry("60000", cid="zgsecretcheck1"))
    with pytest.raises(PostOnlyWouldCross):
        await exchange.place_order(entry("65100"))
    await control(sim, "/_sim/faults", {"drop_ws": "all"})
    await eventually(lambda: exchange.health().private_logged_in is False)
    await eventually(lambda: exchange.health().private_logged_in)
    bad = BitMartExchange(settings_for(sim, secret="another-secret-value"))
    await bad.start()
    try:
        with pytest.raises(AuthenticationFailed):
            await bad.subscribe_account()
    finally:
        await bad.close()
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "zoneguard.exchange.bitmart" in {r.name.rsplit(".", 1)[0] for r in caplog.records}
    for secret in (KEY, SECRET, MEMO, "another-secret-value"):
        assert secret not in logged


@pytest.mark.parametrize("path", ["pooled", "lane"])
async def test_a_clock_drifted_out_of_the_window_is_measured_again_and_the_order_goes(
    sim: SimServer, exchange: BitMartExchange, path: str
) -> None:
    """30007 (timestamp outside the minute) refuses a signed request before executing it:
    the client measures the server clock again and sends it once more, instead of calling
    the key refused and failing every order until a restart."""
    rest = exchange.rest
    rest.clock_offset_ms = -120_000  # two minutes behind, as after a long NTP outage
    request = entry("64000", cid="drift1")
    if path == "lane":
        sent = exchange.place_order_now(request)
        assert sent is not None, "a warm lane connection is expected after start()"
        placed = await sent
    else:
        placed = await exchange.place_order(request)
    assert placed.order_id.isdigit()
    assert abs(rest.clock_offset_ms) < 5_000
    (resting,) = await exchange.open_orders(SYMBOL)
    assert resting.client_order_id == "drift1"


async def test_a_wrong_key_is_still_refused_after_a_clock_check(sim: SimServer) -> None:
    client = BitMartExchange(settings_for(sim, secret="not-the-secret"))
    await client.start()
    try:
        with pytest.raises(AuthenticationFailed):
            await client.place_order(entry("64000", cid="badkey1"))
    finally:
        await client.close()
