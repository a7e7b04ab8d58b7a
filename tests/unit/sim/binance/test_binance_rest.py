"""The Binance USDⓈ-M dialect driven by real Binance clients: ccxt (POST parameters in a
signed form body) and Binance's own SDK (everything in the signed query string)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import ccxt.async_support as ccxt_async
import pytest
from binance_clients import (
    in_thread,
    move_price,
    now_ms,
    raw,
    sdk_client,
    signed,
)
from binance_common.errors import BadRequestError, UnauthorizedError

from zoneguard.sim.server import SimServer

SYMBOL = "BTC/USDT:USDT"


async def test_exchange_info_filters_make_every_valid_quantity_whole_contracts(
    sim: SimServer, session: aiohttp.ClientSession
) -> None:
    status, info, headers = await raw(session, sim, "GET", "/fapi/v1/exchangeInfo")
    assert status == 200
    assert "X-MBX-USED-WEIGHT-1M" in headers
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.1"
    assert filters["LOT_SIZE"]["stepSize"] == "0.001" == filters["LOT_SIZE"]["minQty"]
    assert filters["MARKET_LOT_SIZE"]["stepSize"] == "0.001"
    assert filters["MIN_NOTIONAL"]["notional"] == "100"
    assert Decimal(filters["LOT_SIZE"]["stepSize"]) == sim.engine.contract("BTCUSDT").contract_size
    assert {r["rateLimitType"] for r in info["rateLimits"]} == {"REQUEST_WEIGHT", "ORDERS"}


async def test_ccxt_loads_markets_and_reads_public_data(ccxt: Any) -> None:
    markets = await ccxt.load_markets()
    market = markets[SYMBOL]
    assert market["id"] == "BTCUSDT"
    assert Decimal(str(market["precision"]["amount"])) == Decimal("0.001")
    assert Decimal(str(market["precision"]["price"])) == Decimal("0.1")
    ticker = await ccxt.fetch_bid_ask(SYMBOL) if ccxt.has.get("fetchBidAsk") else None
    if ticker is not None:
        assert ticker["bid"] < ticker["ask"]
    candles = await ccxt.fetch_ohlcv(SYMBOL, "1m", limit=5)
    assert candles and candles[-1][4] == 65000


async def test_both_signing_styles_are_accepted(sim: SimServer, ccxt: Any) -> None:
    """ccxt signs a POST's form body; the SDK puts everything in the signed query."""
    by_ccxt = await ccxt.create_order(SYMBOL, "limit", "buy", 0.002, 64000)
    sdk = sdk_client(sim)
    by_sdk = (
        await in_thread(
            sdk.new_order,
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            time_in_force="GTC",
            quantity=0.002,
            price=63000,
        )
    ).data()
    assert by_ccxt["status"] == "open"
    assert by_sdk.status == "NEW"
    open_orders = (await in_thread(sdk.current_all_open_orders, symbol="BTCUSDT")).data()
    assert {o.order_id for o in open_orders} == {int(by_ccxt["id"]), by_sdk.order_id}


async def test_wrong_signature_unknown_key_and_stale_timestamp_are_refused(
    sim: SimServer, session: aiohttp.ClientSession
) -> None:
    params = {"symbol": "BTCUSDT", "timestamp": now_ms()}
    status, body, _ = await raw(session, sim, "GET", "/fapi/v1/openOrders", signed(params, "x"))
    assert (status, body["code"]) == (400, -1022)
    status, body, _ = await raw(
        session, sim, "GET", "/fapi/v1/openOrders", signed(params), key="nope"
    )
    assert (status, body["code"]) == (401, -2015)
    stale = {"symbol": "BTCUSDT", "timestamp": now_ms() - 6000}
    status, body, _ = await raw(session, sim, "GET", "/fapi/v1/openOrders", signed(stale))
    assert (status, body["code"]) == (400, -1021)
    widened = {**stale, "recvWindow": 10000}
    status, body, _ = await raw(session, sim, "GET", "/fapi/v1/openOrders", signed(widened))
    assert (status, body) == (200, [])
    # The same text signed in the query but sent in the body still verifies (totalParams).
    query = signed({"symbol": "BTCUSDT", "timestamp": now_ms()})
    status, body, _ = await raw(session, sim, "GET", "/fapi/v1/openOrders", "", query)
    assert status == 200


async def test_gtx_that_would_take_is_refused_and_leaves_no_trace(
    sim: SimServer, ccxt: Any
) -> None:
    with pytest.raises(ccxt_async.InvalidOrder) as caught:
        await ccxt.create_order(
            SYMBOL, "limit", "buy", 0.002, 65100, {"timeInForce": "GTX", "clientOrderId": "gtx1"}
        )
    assert "-5022" in str(caught.value)
    assert await ccxt.fetch_orders(SYMBOL) == []
    assert not list(sim.engine.orders())


async def test_resting_gtx_fills_when_the_price_trades_through_it(
    sim: SimServer, ccxt: Any, session: aiohttp.ClientSession
) -> None:
    order = await ccxt.create_order(
        SYMBOL, "limit", "buy", 0.002, 64900, {"timeInForce": "GTX", "postOnly": True}
    )
    assert order["status"] == "open"
    moved = await move_price(session, sim, "BTCUSDT", "64850")
    assert moved["filled"] == [order["id"]]
    fetched = await ccxt.fetch_order(order["id"], SYMBOL)
    assert fetched["status"] == "closed"
    assert fetched["filled"] == 0.002
    assert fetched["average"] == 64900
    [position] = await ccxt.fetch_positions([SYMBOL])
    assert position["contracts"] == 0.002
    assert position["side"] == "long"
    assert position["entryPrice"] == 64900


async def test_market_reduce_only_close_leaves_the_position_flat(sim: SimServer, ccxt: Any) -> None:
    await ccxt.create_order(SYMBOL, "market", "buy", 0.003)
    with pytest.raises(ccxt_async.ExchangeError) as caught:  # more than held
        await ccxt.create_order(SYMBOL, "market", "sell", 0.004, None, {"reduceOnly": True})
    assert "-2022" in str(caught.value)
    close = await ccxt.create_order(SYMBOL, "market", "sell", 0.003, None, {"reduceOnly": True})
    assert close["reduceOnly"] is True
    sdk = sdk_client(sim)
    positions = (await in_thread(sdk.position_information_v3, symbol="BTCUSDT")).data()
    assert positions == []
    with pytest.raises(ccxt_async.ExchangeError) as again:  # nothing left to reduce
        await ccxt.create_order(SYMBOL, "market", "sell", 0.001, None, {"reduceOnly": True})
    assert "-2022" in str(again.value)


async def test_duplicate_client_id_query_and_cancel_by_client_id(sim: SimServer) -> None:
    sdk = sdk_client(sim)
    order = dict(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=0.002)
    await in_thread(sdk.new_order, **order, price=64000, new_client_order_id="entry-1")
    with pytest.raises(BadRequestError) as caught:
        await in_thread(sdk.new_order, **order, price=63000, new_client_order_id="entry-1")
    assert caught.value.status_code == -4116
    found = (await in_thread(sdk.query_order, "BTCUSDT", orig_client_order_id="entry-1")).data()
    assert (found.client_order_id, found.status, found.price) == ("entry-1", "NEW", "64000")
    cancelled = (
        await in_thread(sdk.cancel_order, "BTCUSDT", orig_client_order_id="entry-1")
    ).data()
    assert cancelled.status == "CANCELED"
    # Free again once the first is no longer open (unique among open orders only).
    again = (
        await in_thread(sdk.new_order, **order, price=63000, new_client_order_id="entry-1")
    ).data()
    assert again.order_id != found.order_id
    with pytest.raises(BadRequestError) as bad_id:
        await in_thread(sdk.new_order, **order, price=63000, new_client_order_id="no spaces")
    assert bad_id.value.status_code == -4015


async def test_unknown_order_is_2013_and_its_cancel_2011(sim: SimServer, ccxt: Any) -> None:
    with pytest.raises(ccxt_async.OrderNotFound) as caught:
        await ccxt.fetch_order("12345", SYMBOL)
    assert "-2013" in str(caught.value)
    sdk = sdk_client(sim)
    with pytest.raises(BadRequestError) as refused:
        await in_thread(sdk.cancel_order, "BTCUSDT", order_id=12345)
    assert refused.value.status_code == -2011


async def test_stop_market_goes_to_the_algo_service_and_fires_on_the_price(
    sim: SimServer, ccxt: Any, session: aiohttp.ClientSession
) -> None:
    await ccxt.create_order(SYMBOL, "market", "buy", 0.002)
    params = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "STOP_MARKET",
        "stopPrice": "64000",
        "closePosition": "true",
    }
    with pytest.raises(ccxt_async.ExchangeError) as caught:  # the implicit raw endpoint
        await ccxt.fapiPrivatePostOrder(params)
    assert "-4120" in str(caught.value)

    sdk = sdk_client(sim)
    algo = (
        await in_thread(
            sdk.new_algo_order,
            algo_type="CONDITIONAL",
            symbol="BTCUSDT",
            side="SELL",
            type="STOP_MARKET",
            trigger_price=64000,
            close_position="true",
            client_algo_id="sl-1",
        )
    ).data()
    assert algo.algo_status == "NEW"
    listed = (await in_thread(sdk.current_all_algo_open_orders, symbol="BTCUSDT")).data()
    assert [a.algo_id for a in listed] == [algo.algo_id]

    await move_price(session, sim, "BTCUSDT", "64500")  # not yet
    assert (await in_thread(sdk.query_algo_order, algo_id=algo.algo_id)).data().algo_status == "NEW"
    await move_price(session, sim, "BTCUSDT", "63990")  # through the trigger
    fired = (await in_thread(sdk.query_algo_order, client_algo_id="sl-1")).data()
    assert fired.algo_status == "FINISHED"
    assert fired.actual_order_id
    assert (await in_thread(sdk.position_information_v3, symbol="BTCUSDT")).data() == []
    child = await ccxt.fetch_order(fired.actual_order_id, SYMBOL)
    assert child["status"] == "closed"
    assert child["side"] == "sell"


async def test_ccxt_stop_loss_order_rides_the_algo_endpoint(
    sim: SimServer, ccxt: Any, session: aiohttp.ClientSession
) -> None:
    await ccxt.create_order(SYMBOL, "market", "sell", 0.002)  # a short
    stop = await ccxt.create_order(
        SYMBOL, "market", "buy", 0.002, None, {"stopLossPrice": 66000, "reduceOnly": True}
    )
    assert stop["id"]
    [plan] = list(sim.engine.active_plans())  # placed on the algo service, armed
    assert plan.trigger_price == 66000
    await move_price(session, sim, "BTCUSDT", "65990")
    assert list(sim.engine.active_plans()) == [plan]
    await move_price(session, sim, "BTCUSDT", "66010")
    assert not list(sim.engine.active_plans())
    held = [p for p in await ccxt.fetch_positions([SYMBOL]) if p["contracts"]]
    assert held == []


async def test_position_risk_and_account_after_a_fill(sim: SimServer, ccxt: Any) -> None:
    sdk = sdk_client(sim)
    await in_thread(
        sdk.new_order,
        symbol="BTCUSDT",
        side="SELL",
        type="MARKET",
        quantity=0.005,
        new_order_resp_type="RESULT",
    )
    [position] = (await in_thread(sdk.position_information_v3, symbol="BTCUSDT")).data()
    assert position.position_side == "BOTH"
    assert Decimal(position.position_amt) == Decimal("-0.005")
    assert Decimal(position.entry_price) == Decimal("64999.9")  # the bid, as taker
    v2 = await ccxt.fapiPrivateV2GetPositionRisk({"symbol": "BTCUSDT"})
    assert Decimal(v2[0]["positionAmt"]) == Decimal("-0.005")
    assert v2[0]["marginType"] == "cross"
    account = (await in_thread(sdk.account_information_v3)).data()
    assert Decimal(account.total_position_initial_margin) > 0
    balance = await ccxt.fetch_balance()
    assert balance["USDT"]["total"] > 0


async def test_min_notional_precision_and_tick_are_checked(sim: SimServer) -> None:
    sdk = sdk_client(sim)
    base = dict(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC")
    cases = [
        (dict(quantity=0.001, price=64000), -4164),  # 64 USDT < 100
        (dict(quantity=0.002, price=64000.15), -4014),  # between ticks
        (dict(quantity=0.002, price=64000.123), -1111),  # too many digits
        (dict(quantity=0.0025, price=64000), -1111),
    ]
    for extra, code in cases:
        with pytest.raises(BadRequestError) as caught:
            await in_thread(sdk.new_order, **base, **extra)
        assert caught.value.status_code == code, extra


async def test_account_settings_and_listen_key(
    sim: SimServer, session: aiohttp.ClientSession
) -> None:
    sdk = sdk_client(sim)
    assert (await in_thread(sdk.get_current_position_mode)).data().dual_side_position is False
    leverage = (await in_thread(sdk.change_initial_leverage, "BTCUSDT", 20)).data()
    assert leverage.leverage == 20
    await in_thread(sdk.change_margin_type, "BTCUSDT", "ISOLATED")
    with pytest.raises(BadRequestError) as same:
        await in_thread(sdk.change_margin_type, "BTCUSDT", "ISOLATED")
    assert same.value.status_code == -4046
    fees = (await in_thread(sdk.user_commission_rate, "BTCUSDT")).data()
    assert Decimal(fees.taker_commission_rate) == sim.engine.taker_fee_rate
    key = (await in_thread(sdk.start_user_data_stream)).data().listen_key
    assert key == (await in_thread(sdk.start_user_data_stream)).data().listen_key
    await in_thread(sdk.keepalive_user_data_stream)
    status, body, _ = await raw(session, sim, "POST", "/fapi/v1/listenKey", key="nope")
    assert (status, body["code"]) == (401, -2015)
    stranger = sdk_client(sim, key="nope")
    with pytest.raises(UnauthorizedError) as refused:
        await in_thread(stranger.position_information_v3)
    assert refused.value.status_code == -2015


async def test_hedge_mode_needs_long_or_short_and_refuses_reduce_only(
    sim: SimServer, session: aiohttp.ClientSession
) -> None:
    sdk = sdk_client(sim)
    await in_thread(sdk.change_position_mode, dual_side_position="true")
    order = dict(symbol="BTCUSDT", type="MARKET", quantity=0.002)
    with pytest.raises(BadRequestError) as both:
        await in_thread(sdk.new_order, side="BUY", **order)  # positionSide BOTH
    assert both.value.status_code == -4061
    with pytest.raises(BadRequestError) as reduce:
        await in_thread(
            sdk.new_order, side="SELL", position_side="LONG", reduce_only="true", **order
        )
    assert reduce.value.status_code == -1106
    await in_thread(sdk.new_order, side="BUY", position_side="LONG", **order)
    await in_thread(sdk.new_order, side="SELL", position_side="SHORT", **order)
    rows = (await in_thread(sdk.position_information_v3, symbol="BTCUSDT")).data()
    assert sorted((r.position_side, r.position_amt) for r in rows) == [
        ("LONG", "0.002"),
        ("SHORT", "-0.002"),
    ]
    with pytest.raises(BadRequestError) as busy:
        await in_thread(sdk.change_position_mode, dual_side_position="false")
    assert busy.value.status_code == -4068
    await in_thread(sdk.new_order, side="SELL", position_side="LONG", **order)  # closes
    assert [r.position_side for r in (await in_thread(sdk.position_information_v3)).data()] == [
        "SHORT"
    ]


async def test_order_answers_carry_the_order_count_headers(
    sim: SimServer, session: aiohttp.ClientSession
) -> None:
    body = signed(
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.002",
            "price": "64000",
            "timestamp": now_ms(),
        }
    )
    counts = []
    for _ in range(2):
        status, order, headers = await raw(session, sim, "POST", "/fapi/v1/order", body=body)
        assert status == 200, order
        counts.append(int(headers["X-MBX-ORDER-COUNT-10S"]))
        assert int(headers["X-MBX-ORDER-COUNT-1M"]) >= counts[-1]
        assert "X-MBX-USED-WEIGHT-1M" in headers
    assert counts[1] == counts[0] + 1
