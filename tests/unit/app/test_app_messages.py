"""PlaceOrderMessage / MonitorPositionMessage: built from a validated plan, exact through
JSON, the seed's worker payload."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from pydantic import ValidationError

from zoneguard.app.messages import (
    MonitorPositionMessage,
    PlaceOrderMessage,
    decode_message,
)
from zoneguard.domain.plan import PlanDefaults, parse_plan

SIGNAL = {
    "id": "order-abc",
    "symbol": "btcusdt",
    "side": "long",
    "entry_zone_min": 65000.1,
    "entry_zone_max": "65500.25",
    "quantity": 0.01,
    "leverage": 10,
    "stop_loss": 64000,
    "take_profit": 68000,
    "metadata": {"strategy": "high_conviction"},
}


def test_a_plan_becomes_a_message_that_survives_json_exactly() -> None:
    message = PlaceOrderMessage.from_plan(parse_plan(SIGNAL, PlanDefaults()))
    wire = orjson.dumps(message.body())
    again = decode_message(PlaceOrderMessage.TYPE, orjson.loads(wire))
    assert again == message
    assert isinstance(again, PlaceOrderMessage)
    assert again.entry_zone_min == Decimal("65000.1")
    assert again.entry_zone_max == Decimal("65500.25")
    assert again.quantity == Decimal("0.01")
    assert again.symbol == "BTCUSDT"
    assert again.timeout_seconds == 300


def test_the_worker_payload_is_the_seeds() -> None:
    message = PlaceOrderMessage.from_plan(parse_plan(SIGNAL, PlanDefaults()))
    payload = message.worker_payload("http://app:8080/api/orders/callback")
    assert list(payload) == [
        "id",
        "symbol",
        "side",
        "entry_zone_min",
        "entry_zone_max",
        "quantity",
        "leverage",
        "stop_loss",
        "take_profit",
        "timeout_seconds",
        "callback_url",
        "metadata",
    ]
    assert payload["id"] == "order-abc"
    assert payload["entry_zone_min"] == "65000.1"
    assert payload["callback_url"] == "http://app:8080/api/orders/callback"
    # and the worker's own validation accepts it as is
    plan = parse_plan(payload, PlanDefaults())
    assert plan.entry_zone_max == Decimal("65500.25")


def test_monitor_payload_leaves_out_what_the_worker_reads_from_the_exchange() -> None:
    message = MonitorPositionMessage(
        order_id="order-m", symbol="ETHUSDT", side="short", take_profit=Decimal("2000.5")
    )
    payload = message.worker_payload("http://app/cb")
    assert payload == {
        "id": "order-m",
        "symbol": "ETHUSDT",
        "side": "short",
        "stop_loss": None,
        "take_profit": "2000.5",
        "callback_url": "http://app/cb",
        "metadata": {},
    }


def test_unknown_types_and_bad_bodies_are_refused() -> None:
    with pytest.raises(KeyError):
        decode_message("Nope", {})
    with pytest.raises(ValidationError):
        decode_message(PlaceOrderMessage.TYPE, {"order_id": "x"})
    with pytest.raises(ValidationError):
        decode_message(MonitorPositionMessage.TYPE, {"order_id": "x", "symbol": "A", "side": "up"})
