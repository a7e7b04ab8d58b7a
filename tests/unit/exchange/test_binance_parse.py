"""Binance payloads -> domain types: quantities become whole contracts of one step, sides
follow from BUY/SELL, ``positionSide`` and ``reduceOnly``, statuses from ``X``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from zoneguard.domain.market import OrderEventKind, OrderOrigin, OrderStatus, OrderType
from zoneguard.domain.values import Side
from zoneguard.exchange.binance.parse import (
    WireFormatError,
    account_update_positions,
    algo_order,
    book_ticker_tick,
    contract_spec,
    kline_push,
    min_notional,
    order_side_for,
    order_trade_update,
    position_risk,
    position_side_of,
    quantity_of,
    rest_klines,
    rest_order,
)

D = Decimal
STEP = D("0.001")
BTCUSDT: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "status": "TRADING",
    "contractType": "PERPETUAL",
    "baseAsset": "BTC",
    "quoteAsset": "USDT",
    "pricePrecision": 2,
    "quantityPrecision": 3,
    "filters": [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": "556.80",
            "maxPrice": "4529764",
            "tickSize": "0.10",
        },
        {"filterType": "LOT_SIZE", "stepSize": "0.001", "maxQty": "1000", "minQty": "0.001"},
        {"filterType": "MARKET_LOT_SIZE", "stepSize": "0.001", "maxQty": "120", "minQty": "0.001"},
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        {"filterType": "MIN_NOTIONAL", "notional": "100"},
        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500"},
    ],
}


def test_exchange_info_filters_make_the_contract() -> None:
    spec = contract_spec(BTCUSDT)
    assert (spec.contract_size, spec.tick_size, spec.lot_size) == (STEP, D("0.10"), D(1))
    assert (spec.min_volume, spec.max_volume, spec.market_max_volume) == (1, 1_000_000, 120_000)
    assert min_notional(BTCUSDT) == D(100)
    with pytest.raises(WireFormatError, match="LOT_SIZE"):
        contract_spec({**BTCUSDT, "filters": BTCUSDT["filters"][:1]})


@pytest.mark.parametrize(
    ("side", "position_side", "reduce_only", "expected"),
    [
        ("BUY", "BOTH", False, Side.LONG),
        ("SELL", "BOTH", True, Side.LONG),
        ("SELL", "BOTH", False, Side.SHORT),
        ("BUY", "BOTH", True, Side.SHORT),
        ("SELL", "LONG", False, Side.LONG),
        ("BUY", "SHORT", False, Side.SHORT),
    ],
)
def test_which_position_an_order_acts_on(
    side: str, position_side: str, reduce_only: bool, expected: Side
) -> None:
    assert position_side_of(side, position_side, reduce_only) is expected
    if position_side == "BOTH":
        assert order_side_for(expected, reduce_only) == side


def test_contracts_go_back_to_the_step_grid() -> None:
    assert quantity_of(D(25), STEP) == D("0.025")
    assert str(quantity_of(D(1000), STEP)) == "1.000"


def test_a_rest_order_with_a_partial_fill() -> None:
    row = {
        "orderId": 283194212,
        "clientOrderId": "zg0123",
        "symbol": "BTCUSDT",
        "side": "BUY",
        "positionSide": "BOTH",
        "reduceOnly": False,
        "type": "LIMIT",
        "origType": "LIMIT",
        "timeInForce": "GTX",
        "price": "64000.0",
        "origQty": "0.010",
        "executedQty": "0.004",
        "avgPrice": "64000.0",
        "status": "PARTIALLY_FILLED",
        "stopPrice": "0",
        "time": 1730000000000,
        "updateTime": 1730000000500,
    }
    info = rest_order(row, STEP)
    assert info.order_id == "283194212" and info.client_order_id == "zg0123"
    assert (info.contracts, info.filled_contracts) == (10, 4)
    assert info.position_side is Side.LONG and not info.reduce_only
    assert info.status is OrderStatus.PARTIALLY_FILLED and info.order_type is OrderType.LIMIT
    assert info.trigger_price is None and info.avg_fill_price == D(64000)
    expired = rest_order({**row, "status": "EXPIRED", "executedQty": "0"}, STEP)
    assert expired.status is OrderStatus.CANCELLED and expired.avg_fill_price == D(64000)
    with pytest.raises(WireFormatError, match="status"):
        rest_order({**row, "status": "HALF_DONE"}, STEP)


def order_event(**fields: Any) -> dict[str, Any]:
    o = {
        "s": "BTCUSDT",
        "c": "zgclose1",
        "S": "SELL",
        "o": "MARKET",
        "f": "GTC",
        "q": "0.010",
        "p": "0",
        "ap": "65010.5",
        "sp": "0",
        "x": "TRADE",
        "X": "FILLED",
        "i": 8886774,
        "l": "0.006",
        "z": "0.010",
        "L": "65011",
        "N": "USDT",
        "n": "0.15602640",
        "T": 1730000001000,
        "t": 12345,
        "m": False,
        "R": True,
        "ps": "BOTH",
        "ot": "MARKET",
        "rp": "10.5",
    }
    o.update(fields)
    return {"e": "ORDER_TRADE_UPDATE", "E": 1730000001005, "T": 1730000001003, "o": o}


def test_an_order_trade_update_with_its_fill() -> None:
    update = order_trade_update(order_event(), STEP)
    assert update.kind is OrderEventKind.FILL
    order = update.order
    assert order.position_side is Side.LONG and order.reduce_only  # a close of a long
    assert order.order_type is OrderType.MARKET and order.status is OrderStatus.FILLED
    assert order.filled_contracts == 10 and order.avg_fill_price == D("65010.5")
    assert update.fill is not None
    assert (update.fill.contracts, update.fill.price, update.fill.fee) == (6, 65011, D("0.1560264"))


def test_a_cancel_carries_no_fill_and_binances_own_closes_are_named() -> None:
    cancelled = order_trade_update(order_event(x="CANCELED", X="CANCELED", z="0"), STEP)
    assert cancelled.kind is OrderEventKind.CANCELLED and cancelled.fill is None
    liquidation = order_trade_update(order_event(c="autoclose-1730000000"), STEP)
    assert liquidation.order.origin is OrderOrigin.LIQUIDATION


def test_positions_one_way_and_hedge() -> None:
    short = position_risk(
        {
            "symbol": "BTCUSDT",
            "positionSide": "BOTH",
            "positionAmt": "-0.020",
            "entryPrice": "65000.0",
            "markPrice": "64900",
            "unRealizedProfit": "2.0",
            "liquidationPrice": "0",
            "updateTime": 5,
        },
        STEP,
    )
    assert (short.side, short.contracts, short.liquidation_price) == (Side.SHORT, 20, None)
    event = {
        "e": "ACCOUNT_UPDATE",
        "E": 1,
        "T": 2,
        "a": {
            "m": "ORDER",
            "B": [],
            "P": [
                {
                    "s": "BTCUSDT",
                    "pa": "0.005",
                    "ep": "64000",
                    "bep": "64010",
                    "up": "1",
                    "ps": "LONG",
                },
                {"s": "ETHUSDT", "pa": "1", "ep": "3000", "up": "0", "ps": "BOTH"},
            ],
        },
    }
    positions = account_update_positions(event, {"BTCUSDT": STEP})
    assert [(p.symbol, p.side, p.contracts) for p in positions] == [("BTCUSDT", Side.LONG, 5)]


def test_an_algo_stop_that_closes_the_whole_position() -> None:
    stop = algo_order(
        {
            "algoId": 2148719,
            "clientAlgoId": "zgsl1",
            "algoType": "CONDITIONAL",
            "orderType": "STOP_MARKET",
            "symbol": "BTCUSDT",
            "side": "SELL",
            "positionSide": "BOTH",
            "quantity": "0",
            "triggerPrice": "63000",
            "closePosition": True,
            "algoStatus": "NEW",
            "createTime": 9,
        },
        STEP,
    )
    assert stop.origin is OrderOrigin.STOP_LOSS and stop.position_side is Side.LONG
    assert stop.contracts is None and stop.trigger_price == 63000


def test_prices_and_bars() -> None:
    tick = book_ticker_tick({"e": "bookTicker", "s": "BTCUSDT", "b": "100.0", "a": "100.2"}, 7)
    assert (tick.bid, tick.ask, tick.last, tick.received_ns) == (100, D("100.2"), D("100.1"), 7)
    bar = kline_push(
        {
            "e": "kline",
            "s": "BTCUSDT",
            "k": {
                "t": 1730000040000,
                "s": "BTCUSDT",
                "i": "1m",
                "o": "1",
                "h": "3",
                "l": "0.5",
                "c": "2",
                "v": "10",
                "x": False,
            },
        },
        0,
    )
    assert (bar.open_time_s, bar.high, bar.timeframe) == (1730000040, 3, "1m")
    rows = [[1730000040000, "1", "3", "0.5", "2", "10", 1730000099999, "20", 5, "1", "2", "0"]]
    assert rest_klines("BTCUSDT", "1m", rows)[0].low == D("0.5")
