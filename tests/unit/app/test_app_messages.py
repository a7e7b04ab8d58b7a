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


ZONED = {
    **{k: v for k, v in SIGNAL.items() if not k.startswith("entry_zone_")},
    "entry_zones": [
        {"min": "65200", "max": 65500.5, "size_percent": 60},
        {"min": 64800, "max": "65000", "size_percent": "40"},
    ],
}


def test_entry_zones_ride_the_bus_exactly_and_reach_the_worker_instead_of_the_seeds_zone() -> None:
    message = PlaceOrderMessage.from_plan(parse_plan(ZONED, PlanDefaults()))
    again = decode_message(PlaceOrderMessage.TYPE, orjson.loads(orjson.dumps(message.body())))
    assert again == message
    assert isinstance(again, PlaceOrderMessage)
    zones = [
        {"min": "65200", "max": "65500.5", "size_percent": "60"},
        {"min": "64800", "max": "65000", "size_percent": "40"},
    ]
    assert again.entry_zones == zones
    assert (again.entry_zone_min, again.entry_zone_max) == (Decimal(64800), Decimal("65500.5"))
    payload = again.worker_payload("http://app/cb")
    assert payload["entry_zones"] == zones
    assert "entry_zone_min" not in payload and "entry_zone_max" not in payload
    # The worker's own validation takes it as is (both forms at once would be a 422).
    plan = parse_plan(payload, PlanDefaults())
    assert [(z.min, z.max, z.size_percent) for z in plan.entry_zones] == [
        (Decimal(65200), Decimal("65500.5"), Decimal(60)),
        (Decimal(64800), Decimal(65000), Decimal(40)),
    ]


def test_a_message_queued_before_entry_zones_existed_still_decodes() -> None:
    seed = PlaceOrderMessage.from_plan(parse_plan(SIGNAL, PlanDefaults())).body()
    del seed["entry_zones"]
    message = decode_message(PlaceOrderMessage.TYPE, seed)
    assert isinstance(message, PlaceOrderMessage) and message.entry_zones is None
    assert "entry_zones" not in message.worker_payload("http://app/cb")
