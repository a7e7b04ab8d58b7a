"""OrderRequest / StopRequest -> BitMart bodies, compared with BitMart's own samples."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from zoneguard.domain.market import OrderOrigin, OrderType, TimeInForce
from zoneguard.domain.values import MarginMode, PriceSource, Side
from zoneguard.exchange.bitmart.bodies import (
    decimal_text,
    modify_presets_body,
    submit_order_body,
    tp_sl_body,
)
from zoneguard.exchange.errors import InvalidRequest
from zoneguard.exchange.port import OrderRequest, StopRequest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bitmart"
D = Decimal


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def assert_same_wire(body: dict[str, object], expected: dict[str, object]) -> None:
    """Same keys, same JSON types, same values (a "1" is not a 1 on BitMart's wire)."""
    assert body.keys() == expected.keys()
    for key, value in expected.items():
        assert type(body[key]) is type(value), key
    assert body == expected


def test_limit_open_short_gtc() -> None:
    request = OrderRequest(
        symbol="BTCUSDT",
        position_side=Side.SHORT,
        reduce_only=False,
        order_type=OrderType.LIMIT,
        contracts=D("10"),
        price=D("2000000"),
        leverage=D("1"),
        margin_mode=MarginMode.ISOLATED,
    )
    assert_same_wire(submit_order_body(request), load("rest_submit_order_request.json"))


def test_limit_open_short_with_presets() -> None:
    request = OrderRequest(
        symbol="BTCUSDT",
        position_side=Side.SHORT,
        reduce_only=False,
        order_type=OrderType.LIMIT,
        contracts=D("10"),
        price=D("70000"),
        leverage=D("20"),
        preset_take_profit=D("68000"),
        preset_stop_loss=D("72000"),
    )
    body = submit_order_body(request)
    assert_same_wire(body, load("rest_submit_order_request_limit_preset_tpsl.json"))


def test_market_close_long() -> None:
    request = OrderRequest(
        symbol="BTCUSDT",
        position_side=Side.LONG,
        reduce_only=True,
        order_type=OrderType.MARKET,
        contracts=D("100"),
    )
    assert_same_wire(
        submit_order_body(request), load("rest_submit_order_request_market_close_long.json")
    )


def test_market_open_long_cross() -> None:
    request = OrderRequest(
        symbol="BTCUSDT",
        position_side=Side.LONG,
        reduce_only=False,
        order_type=OrderType.MARKET,
        contracts=D("1"),
        leverage=D("10"),
        margin_mode=MarginMode.CROSS,
    )
    assert_same_wire(
        submit_order_body(request), load("rest_submit_order_request_market_open_long.json")
    )


def test_post_only_entry_with_mark_presets_and_client_id() -> None:
    request = OrderRequest(
        symbol="BTCUSDT",
        position_side=Side.LONG,
        reduce_only=False,
        order_type=OrderType.LIMIT,
        contracts=D("3"),
        price=D("64999.50"),
        time_in_force=TimeInForce.POST_ONLY,
        leverage=D("5"),
        client_order_id="zgabc123",
        preset_take_profit=D("66000"),
        preset_stop_loss=D("64000.0"),
        preset_price_source=PriceSource.MARK,
    )
    assert submit_order_body(request) == {
        "symbol": "BTCUSDT",
        "side": 1,
        "type": "limit",
        "price": "64999.5",
        "size": 3,
        "leverage": "5",
        "open_type": "isolated",
        "mode": 4,
        "client_order_id": "zgabc123",
        "preset_take_profit_price": "66000",
        "preset_stop_loss_price": "64000",
        "preset_take_profit_price_type": 2,
        "preset_stop_loss_price_type": 2,
    }


def test_close_short_limit_ioc() -> None:
    request = OrderRequest(
        symbol="ETHUSDT",
        position_side=Side.SHORT,
        reduce_only=True,
        order_type=OrderType.LIMIT,
        contracts=D("2"),
        price=D("3000.25"),
        time_in_force=TimeInForce.IOC,
        leverage=D("10"),
    )
    # closing sides carry neither leverage nor open_type
    assert submit_order_body(request) == {
        "symbol": "ETHUSDT",
        "side": 2,
        "type": "limit",
        "price": "3000.25",
        "size": 2,
        "mode": 3,
    }


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"contracts": D("1.5")}, "whole number"),
        ({"contracts": D("0")}, "whole number"),
        ({"price": None}, "needs a price"),
        ({"price": D("-1")}, "positive"),
        ({"client_order_id": "has-dash"}, "letters or digits"),
        ({"client_order_id": "x" * 33}, "letters or digits"),
        ({"reduce_only": True, "preset_stop_loss": D("1")}, "opening orders"),
        ({"order_type": OrderType.MARKET, "time_in_force": TimeInForce.POST_ONLY}, "post-only"),
    ],
)
def test_refused_before_sending(changes: dict[str, Any], fragment: str) -> None:
    fields: dict[str, Any] = {
        "symbol": "BTCUSDT",
        "position_side": Side.LONG,
        "reduce_only": False,
        "order_type": OrderType.LIMIT,
        "contracts": D("1"),
        "price": D("65000"),
    }
    fields.update(changes)
    with pytest.raises(InvalidRequest, match=fragment):
        submit_order_body(OrderRequest(**fields))


def test_position_stop_loss_matches_the_sample() -> None:
    request = StopRequest(
        symbol="BTCUSDT",
        position_side=Side.LONG,
        origin=OrderOrigin.STOP_LOSS,
        trigger_price=D("64000"),
    )
    assert_same_wire(tp_sl_body(request), load("rest_submit_tp_sl_order_request_position_sl.json"))


def test_sized_take_profit_for_a_short() -> None:
    request = StopRequest(
        symbol="ETHUSDT",
        position_side=Side.SHORT,
        origin=OrderOrigin.TAKE_PROFIT,
        trigger_price=D("2000"),
        price_source=PriceSource.MARK,
        contracts=D("10"),
        client_order_id="123456789",
    )
    expected = load("rest_submit_tp_sl_order_request.json")  # same keys; market execution
    body = tp_sl_body(request)
    assert body.keys() == expected.keys()
    assert body == expected | {"executive_price": "0", "price_type": 2, "category": "market"}


def test_stop_must_be_tp_or_sl() -> None:
    request = StopRequest(
        symbol="BTCUSDT",
        position_side=Side.LONG,
        origin=OrderOrigin.PLAN,
        trigger_price=D("1"),
    )
    with pytest.raises(InvalidRequest):
        tp_sl_body(request)


def test_modify_presets_matches_the_sample() -> None:
    body = modify_presets_body("ETHUSDT", "220609666322019", D("2000"), D("1900"), PriceSource.LAST)
    assert_same_wire(body, load("rest_modify_preset_plan_order_request.json"))


@pytest.mark.parametrize(
    ("value", "text"),
    [(D("65000"), "65000"), (D("6.5E+4"), "65000"), (D("0.00010"), "0.0001"), (D("1.0"), "1")],
)
def test_decimal_text(value: Decimal, text: str) -> None:
    assert decimal_text(value) == text
