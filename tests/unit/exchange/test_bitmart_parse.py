"""Every relevant BitMart fixture parsed into domain types, with the exact values."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from zoneguard.domain.contract import ContractSpec
from zoneguard.domain.market import (
    Balance,
    Fill,
    KlineBar,
    OrderEventKind,
    OrderInfo,
    OrderOrigin,
    OrderStatus,
    OrderType,
    PositionInfo,
    PriceTick,
    StopOrderInfo,
)
from zoneguard.domain.values import MarginMode, Side
from zoneguard.exchange.bitmart import parse
from zoneguard.exchange.bitmart.codes import unwrap
from zoneguard.exchange.bitmart.topics import split_topic, strip_throttle_suffix

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bitmart"
D = Decimal


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def data_of(name: str) -> Any:
    return unwrap(200, (FIXTURES / name).read_bytes(), context=name)


# -- market data ----------------------------------------------------------------------------


def test_ticker_all_symbols_push() -> None:
    push = load("ws_futures_ticker_push.json")
    assert push["group"] == "futures/ticker"
    assert parse.parse_ticker(push["data"], 123) == PriceTick(
        symbol="BTCUSDT",
        last=D("146.24"),
        bid=D("142.11"),
        ask=D("147.11"),
        mark=D("146.24"),
        received_ns=123,
    )


def test_ticker_symbol_push_with_throttle_suffix() -> None:
    push = load("ws_futures_ticker_symbol_push.json")
    group = strip_throttle_suffix(push["group"])
    assert group == "futures/ticker:AXONUSDT"
    assert split_topic(group) == ("futures/ticker", "AXONUSDT")
    tick = parse.parse_ticker(push["data"], 7)
    assert tick == PriceTick(
        symbol="AXONUSDT",
        last=D("566.92"),
        bid=D("565.22"),
        ask=D("568.75"),
        mark=D("567.02"),
        received_ns=7,
    )


def test_ticker_without_last_price_is_a_wire_error() -> None:
    with pytest.raises(parse.WireFormatError):
        parse.parse_ticker({"symbol": "BTCUSDT"}, 0)


@pytest.mark.parametrize(
    ("name", "venue_tf", "neutral_tf"),
    [
        ("ws_futures_klineBin1D_push.json", "1D", "1d"),
        ("ws_futures_klineBin1H_push.json", "1H", "1h"),
    ],
)
def test_kline_pushes(name: str, venue_tf: str, neutral_tf: str) -> None:
    push = load(name)
    channel, symbol = split_topic(push["group"])
    assert channel == f"futures/klineBin{venue_tf}"
    bars = parse.parse_kline_push(venue_tf, push["data"], 99, symbol=symbol)
    assert bars == [
        KlineBar(
            symbol="ETHUSDT",
            timeframe=neutral_tf,
            open_time_s=1721030401,
            open=D("3354.38"),
            high=D("3371.21"),
            low=D("3338.48"),
            close=D("3352.2"),
            volume=D("159199176"),
            received_ns=99,
        )
    ]


def test_rest_klines() -> None:
    bars = parse.parse_rest_klines("BTCUSDT", "1m", data_of("rest_kline_response.json"))
    assert [b.open_time_s for b in bars] == [1662518160, 1662518161]
    assert bars[0] == KlineBar(
        symbol="BTCUSDT",
        timeframe="1m",
        open_time_s=1662518160,
        open=D("100"),
        high=D("130"),
        low=D("90"),
        close=D("120"),
        volume=D("941008"),
    )


def test_contract_details_old() -> None:
    (row,) = data_of("rest_contract_details_response.json")["symbols"]
    assert parse.parse_contract(row) == ContractSpec(
        symbol="BTCUSDT",
        base_currency="BTC",
        quote_currency="USDT",
        contract_size=D("0.001"),
        tick_size=D("0.1"),
        lot_size=D("1"),
        min_volume=D("1"),
        max_volume=D("500000"),
        market_max_volume=D("500000"),
        min_leverage=D("1"),
        max_leverage=D("100"),
        last_price=D("23920"),
    )


def test_contract_details_2026() -> None:
    (row,) = data_of("rest_contract_details_response_2026.json")["symbols"]
    spec = parse.parse_contract(row)
    assert spec == ContractSpec(
        symbol="BTCUSDT",
        base_currency="BTC",
        quote_currency="USDT",
        contract_size=D("0.001"),
        tick_size=D("0.1"),
        lot_size=D("1"),
        min_volume=D("1"),
        max_volume=D("1000000"),
        market_max_volume=D("50000"),
        min_leverage=D("1"),
        max_leverage=D("100"),
        last_price=D("67123.4"),
    )


# -- orders ---------------------------------------------------------------------------------


def test_order_push_v1_cancel_without_fill() -> None:
    (update,) = parse.parse_order_push(load("ws_futures_order_push.json")["data"])
    assert update.kind is OrderEventKind.CANCELLED
    assert update.fill is None  # a cancel push's last_trade is an older fill
    assert update.order == OrderInfo(
        order_id="220906179895578",
        client_order_id="BM1234",
        symbol="BTCUSDT",
        position_side=Side.LONG,
        reduce_only=False,
        order_type=OrderType.LIMIT,
        price=D("1"),
        contracts=D("1000"),
        filled_contracts=D("1000"),
        avg_fill_price=None,
        status=OrderStatus.FILLED,
        leverage=D("5"),
        margin_mode=MarginMode.ISOLATED,
        origin=OrderOrigin.CLIENT,
        created_ms=1662368173000,
        updated_ms=1662368173000,
    )


def test_order_push_fill_carries_last_trade_with_positive_fee() -> None:
    data = load("ws_futures_order_push.json")["data"]
    data[0]["action"] = 1
    (update,) = parse.parse_order_push(data)
    assert update.kind is OrderEventKind.FILL
    assert update.fill == Fill(
        trade_id="1247592391",
        contracts=D("1"),
        price=D("25667.2"),
        fee=D("0.00027"),
        fee_currency="USDT",
    )


def test_order_push_v2_submitted_open_order() -> None:
    data = load("ws_futures_order_push_v2.json")["data"]
    (update,) = parse.parse_order_push(data)
    order = update.order
    assert update.kind is OrderEventKind.CANCELLED
    assert order.status is OrderStatus.OPEN  # state 2, deal_size 0
    assert order.filled_contracts == 0
    assert order.trigger_price is None  # "-" on the wire
    assert order.preset_take_profit is None
    data[0]["action"] = 2
    assert parse.parse_order_push(data)[0].kind is OrderEventKind.SUBMITTED


@pytest.mark.parametrize(
    ("action", "kind", "has_fill"),
    [
        (4, OrderEventKind.LIQUIDATION, False),
        (5, OrderEventKind.OTHER, False),
        (6, OrderEventKind.LIQUIDATION, True),
        (7, OrderEventKind.LIQUIDATION, True),
        (8, OrderEventKind.OTHER, True),
        (9, OrderEventKind.OTHER, True),
        (42, OrderEventKind.OTHER, False),
    ],
)
def test_order_push_other_actions(action: int, kind: OrderEventKind, has_fill: bool) -> None:
    data = load("ws_futures_order_push_v2.json")["data"]
    data[0]["action"] = action
    (update,) = parse.parse_order_push(data)
    assert update.kind is kind
    assert (update.fill is not None) is has_fill


def test_take_profit_order_push_is_a_market_order_of_tp_origin() -> None:
    data = load("ws_futures_order_push_v2.json")["data"]
    order = data[0]["order"]
    order.update(
        type="take_profit", side=3, price="0", state=4, deal_size="1000", deal_avg_price="25700.5"
    )
    data[0]["action"] = 1
    (update,) = parse.parse_order_push(data)
    assert update.order.origin is OrderOrigin.TAKE_PROFIT
    assert update.order.order_type is OrderType.MARKET
    assert update.order.price is None
    assert (update.order.position_side, update.order.reduce_only) == (Side.LONG, True)
    assert update.order.status is OrderStatus.FILLED
    assert update.order.avg_fill_price == D("25700.5")


@pytest.mark.parametrize(
    ("side", "position_side", "reduce_only"),
    [(1, Side.LONG, False), (2, Side.SHORT, True), (3, Side.LONG, True), (4, Side.SHORT, False)],
)
def test_side_codes(side: int, position_side: Side, reduce_only: bool) -> None:
    row = load("rest_order_response.json")["data"] | {"side": side}
    order = parse.parse_order(row)
    assert (order.position_side, order.reduce_only) == (position_side, reduce_only)


@pytest.mark.parametrize(
    ("state", "size", "deal", "status"),
    [
        (1, "10", "0", OrderStatus.PENDING),
        (2, "10", "0", OrderStatus.OPEN),
        (2, "10", "3", OrderStatus.PARTIALLY_FILLED),
        (2, "10", "10", OrderStatus.FILLED),
        (4, "10", "10", OrderStatus.FILLED),
        (4, "10", "3", OrderStatus.CANCELLED),
        (4, "10", "0", OrderStatus.CANCELLED),
    ],
)
def test_order_states(state: int, size: str, deal: str, status: OrderStatus) -> None:
    row = load("rest_order_response.json")["data"] | {
        "state": state,
        "size": size,
        "deal_size": deal,
    }
    assert parse.parse_order(row).status is status


def test_unknown_order_state_is_refused() -> None:
    row = load("rest_order_response.json")["data"] | {"state": 3}
    with pytest.raises(parse.WireFormatError):
        parse.parse_order(row)


def test_rest_order() -> None:
    order = parse.parse_order(data_of("rest_order_response.json"))
    assert order == OrderInfo(
        order_id="220906179895578",
        client_order_id="BM123",
        symbol="BTCUSDT",
        position_side=Side.LONG,
        reduce_only=False,
        order_type=OrderType.LIMIT,
        price=D("1"),
        contracts=D("1000"),
        filled_contracts=D("1000"),
        avg_fill_price=None,
        status=OrderStatus.FILLED,
        leverage=D("5"),
        margin_mode=MarginMode.ISOLATED,
        created_ms=1662368173000,
        updated_ms=1662368173000,
    )


def test_rest_order_2026_market_filled() -> None:
    order = parse.parse_order(data_of("rest_order_response_2026.json"))
    assert order == OrderInfo(
        order_id="23456789012345678",
        client_order_id=None,
        symbol="BTCUSDT",
        position_side=Side.LONG,
        reduce_only=False,
        order_type=OrderType.MARKET,
        price=None,
        contracts=D("1"),
        filled_contracts=D("1"),
        avg_fill_price=D("67123.4"),
        status=OrderStatus.FILLED,
        leverage=D("10"),
        margin_mode=MarginMode.CROSS,
        created_ms=1709971200000,
        updated_ms=1709971200500,
    )


@pytest.mark.parametrize(
    "name", ["rest_get_open_orders_response.json", "rest_order_history_response.json"]
)
def test_order_lists(name: str) -> None:
    (row,) = data_of(name)
    assert parse.parse_order(row) == OrderInfo(
        order_id="220908185908509",
        client_order_id="BM123",
        symbol="BTCUSDT",
        position_side=Side.LONG,
        reduce_only=True,
        order_type=OrderType.LIMIT,
        price=D("14277"),
        contracts=D("7216"),
        filled_contracts=D("7216"),
        avg_fill_price=D("14277"),
        status=OrderStatus.FILLED,
        leverage=None,
        margin_mode=MarginMode.ISOLATED,
        preset_take_profit=D("68000"),
        preset_stop_loss=D("60000"),
        created_ms=1662368173000,
        updated_ms=1662368173000,
    )


def test_plan_orders() -> None:
    (row,) = data_of("rest_current_plan_order_response.json")
    assert parse.parse_plan_order(row) == StopOrderInfo(
        order_id="220908185908509",
        client_order_id="BM123",
        symbol="BTCUSDT",
        position_side=Side.LONG,
        origin=OrderOrigin.STOP_LOSS,
        trigger_price=D("14277"),
        contracts=None,
        created_ms=1662368173000,
    )


def test_sized_take_profit_plan_order_keeps_its_size() -> None:
    (row,) = data_of("rest_current_plan_order_response.json")
    row = row | {"plan_category": 1, "type": "take_profit", "side": 2, "size": "5"}
    stop = parse.parse_plan_order(row)
    assert (stop.origin, stop.position_side, stop.contracts) == (
        OrderOrigin.TAKE_PROFIT,
        Side.SHORT,
        D("5"),
    )


def test_trades() -> None:
    (row,) = data_of("rest_trades_response.json")
    assert parse.parse_trade_row(row) == Fill(
        trade_id="1141853921",
        contracts=D("108"),
        price=D("19313.3"),
        fee=D("0"),
        fee_currency="USDT",
    )


# -- positions and balances -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["ws_futures_position_push.json", "ws_futures_position_push_v1.json"]
)
def test_position_pushes(name: str) -> None:
    (position,) = parse.parse_position_push(load(name)["data"])
    assert position == PositionInfo(
        symbol="BTCUSDT",
        side=Side.LONG,
        contracts=D("2000"),
        entry_price=D("19406.2092"),
        margin_mode=MarginMode.ISOLATED,
        liquidation_price=D("15621.998406"),
        close_contracts=D("0"),
        close_avg_price=None,
        updated_ms=1662692862255,
    )


def test_position_push_short_cross() -> None:
    data = load("ws_futures_position_push.json")["data"]
    data[0].update(position_type=2, open_type=2, hold_volume="0")
    (position,) = parse.parse_position_push(data)
    assert (position.side, position.margin_mode, position.contracts) == (
        Side.SHORT,
        MarginMode.CROSS,
        D("0"),
    )


def test_position_v2() -> None:
    (row,) = data_of("rest_position_v2_response.json")
    assert parse.parse_position_v2(row) == PositionInfo(
        symbol="BTCUSDT",
        side=Side.LONG,
        contracts=D("100"),
        entry_price=D("67000.0"),
        leverage=D("10"),
        margin_mode=MarginMode.CROSS,
        mark_price=D("67123.4"),
        liquidation_price=D("60500.0"),
        unrealized_pnl=D("12.34"),
        realized_pnl=D("0"),
        fees=D("12.50"),
        close_contracts=D("0"),
        close_avg_price=None,
        updated_ms=1709971200000,
    )


def test_position_v2_one_way_short_reads_the_sign() -> None:
    (row,) = data_of("rest_position_v2_response.json")
    row = row | {"position_side": "both", "position_amount": "-7"}
    del row["current_amount"]
    position = parse.parse_position_v2(row)
    assert (position.side, position.contracts) == (Side.SHORT, D("7"))


def test_position_v1() -> None:
    (row,) = data_of("rest_position_response.json")
    assert parse.parse_position_v1(row) == PositionInfo(
        symbol="BTCUSDT",
        side=Side.SHORT,
        contracts=D("899"),
        entry_price=D("20201"),
        leverage=D("5"),
        margin_mode=None,
        mark_price=D("16673.27053207877"),
        unrealized_pnl=D("1903.956643943943943944339"),
        realized_pnl=D("55.049173071454605573"),
        fees=D("5.00409471"),
        close_contracts=D("100"),
        close_avg_price=D("20700.7"),
        updated_ms=1663814313531,
    )


def test_position_v1_2026() -> None:
    (row,) = data_of("rest_position_response_2026.json")
    position = parse.parse_position_v1(row)
    assert (position.side, position.contracts, position.entry_price, position.margin_mode) == (
        Side.LONG,
        D("100"),
        D("67000.0"),
        MarginMode.CROSS,
    )


def test_assets_detail() -> None:
    usdt, btc, _ = (parse.parse_balance(row) for row in data_of("rest_assets_detail_response.json"))
    assert usdt == Balance(
        currency="USDT",
        available=D("100"),
        frozen=D("100"),
        position_margin=D("100"),
        equity=D("100"),
        unrealized_pnl=D("100"),
    )
    assert btc.currency == "BTC"
    assert btc.available == 0


def test_asset_push() -> None:
    push = load("ws_futures_asset_push.json")
    assert parse.parse_balance(push["data"]) == Balance(
        currency="BTC",
        available=D("1000"),
        frozen=D("1000"),
        position_margin=D("1000"),
    )


# -- scalar rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["-", "", None])
def test_not_applicable_markers_are_none(raw: object) -> None:
    assert parse.opt_decimal(raw) is None
    assert parse.opt_text(raw) is None


def test_garbage_number_is_a_wire_error() -> None:
    with pytest.raises(parse.WireFormatError):
        parse.opt_decimal("12abc")
