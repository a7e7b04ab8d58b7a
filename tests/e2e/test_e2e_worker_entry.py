"""The entry side of the worker over real sockets: timeouts, rejections, unknown outcomes,
the seed's ``entry_zone`` knobs, and the subscriptions a new order brings with it."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
from e2e_harness import SEED_ORDER, Stack, eventually


def opening_orders(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Orders that open a position (BitMart sides 1 = open long, 4 = open short)."""
    return [o for o in state["orders"] if o["side"] in (1, 4)]


def order(**changes: Any) -> dict[str, Any]:
    return {**SEED_ORDER, **changes}


async def test_timeout_when_the_zone_is_never_reached(stack: Stack) -> None:
    client = await stack.start()
    started = time.monotonic()
    before_ms = time.time_ns() // 1_000_000
    status, body = await client.post("/api/place-order", order(id="t-1", timeout_seconds=1))
    after_ms = time.time_ns() // 1_000_000
    assert status == 200, body
    assert before_ms + 1000 <= body["timeout_at_ms"] <= after_ms + 1000
    timeout = await stack.receiver.wait_for("t-1", "timeout", timeout=5)
    assert time.monotonic() - started >= 0.95, "timeout_seconds=1 fired early"
    assert timeout["reason"] == "Entry zone not reached within timeout"
    assert stack.receiver.statuses("t-1") == ["timeout"]
    assert await client.order_state("t-1") == "timeout"
    _status, status_body = await client.get("/api/orders/status")
    assert status_body["counts"] == {"waiting": 0, "active": 0, "monitored": 0}
    # The zone is reached afterwards: nothing may be placed for a timed-out order.
    await client.price("BTCUSDT", 65300)
    await stack.seen("BTCUSDT", 65300)
    assert await client.order_state("t-1") == "timeout"
    assert opening_orders(await client.sim_state()) == []


async def test_timeout_of_an_entry_placed_but_not_filled_says_so(stack: Stack) -> None:
    client = await stack.start()
    status, body = await client.post("/api/place-order", order(id="t-rest", timeout_seconds=1))
    assert status == 200, body
    await client.price("BTCUSDT", 65300)  # in the zone: the entry rests, nothing trades
    placed = await stack.receiver.wait_for("t-rest", "placed")
    timeout = await stack.receiver.wait_for("t-rest", "timeout", timeout=5)
    (entry,) = opening_orders(await client.sim_state())
    price = Decimal(str(entry["price"])).normalize()
    assert Decimal(str(placed["entry_price"])) == price
    assert timeout["reason"] == (
        f"Entry order placed at {price:f} but not filled within timeout; cancelled"
    )
    assert stack.receiver.statuses("t-rest") == ["placed", "timeout"]
    state = await client.sim_state()
    assert state["open_order_ids"] == [], "the entry was cancelled"
    assert entry["deal_size"] in ("0", 0)


async def test_default_timeout_comes_from_the_config(stack: Stack) -> None:
    client = await stack.start(orders={"entry_zone": {"timeout_seconds": 1}})
    payload = order(id="t-default")
    del payload["timeout_seconds"]
    before_ms = time.time_ns() // 1_000_000
    status, body = await client.post("/api/place-order", payload)
    after_ms = time.time_ns() // 1_000_000
    assert status == 200, body
    assert before_ms + 1000 <= body["timeout_at_ms"] <= after_ms + 1000
    await stack.receiver.wait_for("t-default", "timeout", timeout=5)


async def test_failed_when_the_exchange_rejects_the_entry(stack: Stack) -> None:
    client = await stack.start()
    await client.fault({"reject_orders": {"count": 1, "code": 40027, "reduce_only": False}})
    status, body = await client.post("/api/place-order", order(id="f-1"))
    assert status == 200, body
    await client.price("BTCUSDT", 65300)
    failed = await stack.receiver.wait_for("f-1", "failed")
    assert failed["error_code"] == 40027
    assert failed["error"]
    assert await client.order_state("f-1") == "failed"
    # Another pass through the zone must not resurrect a failed order.
    await client.prices("BTCUSDT", 66000, 65300)
    await stack.seen("BTCUSDT", 65300)
    assert opening_orders(await client.sim_state()) == []
    assert stack.receiver.statuses("f-1") == ["failed"]


@pytest.mark.parametrize("mode", ["503", "drop"])
async def test_unknown_outcome_of_the_entry_places_it_exactly_once(stack: Stack, mode: str) -> None:
    """The sim executes the order but the reply is a 503 / a cut connection: the worker
    must find it by client_order_id instead of sending a second one."""
    client = await stack.start()
    await client.fault({"order_response": {"count": 1, "mode": mode}})
    status, body = await client.post("/api/place-order", order(id=f"u-{mode}"))
    assert status == 200, body
    await client.price("BTCUSDT", 65300)
    await placement_settled(stack)
    placed = await stack.receiver.wait_for(f"u-{mode}", "placed")
    entries = opening_orders(await client.sim_state())
    assert len(entries) == 1, entries
    assert placed["exchange_order_id"] == str(entries[0]["order_id"])
    await client.prices("BTCUSDT", 65200, 65100)  # fills the resting entry
    await client.wait_state(f"u-{mode}", "open")
    state = await client.sim_state()
    assert len(opening_orders(state)) == 1
    assert [p["current_amount"] for p in state["positions"] if p["current_amount"] != "0"] == ["10"]


async def test_immediate_if_in_zone_places_on_arrival(stack: Stack) -> None:
    client = await stack.start(sim={"prices": {"BTCUSDT": Decimal("65200")}})
    status, body = await client.post("/api/place-order", order(id="imm-1"))
    assert status == 200, body
    placed = await stack.receiver.wait_for("imm-1", "placed")  # no price move needed
    assert 65000 <= placed["entry_price"] <= 65200


async def test_not_immediate_waits_for_the_price_to_leave_and_come_back(stack: Stack) -> None:
    client = await stack.start(
        orders={"entry_zone": {"immediate_if_in_zone": False}},
        sim={"prices": {"BTCUSDT": Decimal("65200")}},
    )
    status, body = await client.post("/api/place-order", order(id="late-1"))
    assert status == 200, body
    await client.price("BTCUSDT", 65300)  # still inside: not armed yet
    await stack.seen("BTCUSDT", 65300)
    assert await client.order_state("late-1") == "waiting_zone"
    await client.price("BTCUSDT", 65800)  # leaves the zone: armed
    await stack.seen("BTCUSDT", 65800)
    assert await client.order_state("late-1") == "waiting_zone"
    await client.price("BTCUSDT", 65400)  # back in: placed
    placed = await stack.receiver.wait_for("late-1", "placed")
    assert 65000 <= placed["entry_price"] <= 65400
    assert len(opening_orders(await client.sim_state())) == 1


@pytest.mark.parametrize(
    ("tolerance", "outside", "inside"),
    [
        ("0", "65500.1", "65500"),
        ("0.1", "65565.6", "65565.5"),  # 65500 * 1.001
        ("1", "66155.1", "66155"),  # 65500 * 1.01
    ],
)
async def test_tolerance_percent_widens_the_zone(
    stack: Stack, tolerance: str, outside: str, inside: str
) -> None:
    client = await stack.start(
        orders={"entry_zone": {"tolerance_percent": tolerance}},
        sim={"prices": {"BTCUSDT": Decimal("67000")}},
    )
    # A stop far below every widened zone, so the plan is valid for each tolerance.
    status, body = await client.post("/api/place-order", order(id="tol-1", stop_loss=60000))
    assert status == 200, body
    await client.price("BTCUSDT", outside)
    await stack.seen("BTCUSDT", outside)
    assert await client.order_state("tol-1") == "waiting_zone"
    await client.price("BTCUSDT", inside)
    placed = await stack.receiver.wait_for("tol-1", "placed")
    assert placed["entry_price"] <= float(inside)
    entries = opening_orders(await client.sim_state())
    assert len(entries) == 1
    assert Decimal(entries[0]["price"]) <= Decimal(inside)


async def test_placing_an_order_subscribes_its_symbol(stack: Stack) -> None:
    """No /klines/subscribe and no /positions/subscribe: the order alone must be enough."""
    client = await stack.start(
        sim={"prices": {"BTCUSDT": Decimal("66000"), "ETHUSDT": Decimal("3100")}}
    )
    _status, before = await client.get("/status")
    assert "ETHUSDT" not in before["price_subscriptions"]
    eth = {
        "id": "eth-1",
        "symbol": "ETHUSDT",
        "side": "long",
        "entry_zone_min": 3000,
        "entry_zone_max": 3050,
        "quantity": 0.1,
        "leverage": 5,
        "stop_loss": 2900,
        "take_profit": 3300,
        "timeout_seconds": 30,
    }
    status, body = await client.post("/api/place-order", eth)
    assert status == 200, body
    _status, after = await client.get("/status")
    assert "ETHUSDT" in after["price_subscriptions"]
    assert after["position_subscribed"] is True
    await client.price("ETHUSDT", 3040)
    await stack.receiver.wait_for("eth-1", "placed")
    await client.prices("ETHUSDT", 3030, 3020)
    await client.wait_state("eth-1", "open")  # the fill came over the private stream
    await client.prices("ETHUSDT", 3200, 3310)
    closed = await stack.receiver.wait_for("eth-1", "closed")
    assert closed["reason"] == "take_profit"


async def test_timeout_while_the_placement_is_in_flight_cancels_it(stack: Stack) -> None:
    """The exchange answers the entry late, after the order's deadline: the entry is
    cancelled as soon as its id is known, and the app hears ``placed`` then ``timeout``."""
    client = await stack.start()
    status, body = await client.post("/api/place-order", order(id="slow-1", timeout_seconds=1))
    assert status == 200, body
    await client.fault({"order_response": {"count": 1, "mode": "delay", "delay_ms": 1500}})
    await client.price("BTCUSDT", 65300)
    await stack.receiver.wait_for("slow-1", "timeout", timeout=6)
    assert stack.receiver.statuses("slow-1") == ["placed", "timeout"]
    state = await client.sim_state()
    assert state["open_order_ids"] == [], "the late entry was cancelled"
    assert [o["deal_size"] for o in opening_orders(state)] == ["0"]


async def test_reply_slower_than_the_client_timeout_places_once(stack: Stack) -> None:
    """The reply comes after the REST client gave up (2 s in the harness): unknown outcome,
    found by client_order_id, never sent twice."""
    client = await stack.start()
    status, body = await client.post("/api/place-order", order(id="late-reply"))
    assert status == 200, body
    await client.fault({"order_response": {"count": 1, "mode": "delay", "delay_ms": 2500}})
    await client.price("BTCUSDT", 65300)
    # The order push says "placed" long before the REST reply; wait for the placement
    # itself to settle (its unknown outcome resolved by asking the exchange).
    await placement_settled(stack)
    placed = await stack.receiver.wait_for("late-reply", "placed")
    assert "outcome of" in stack.app_log.read_text(), "the REST client did time out"
    entries = opening_orders(await client.sim_state())
    assert [str(o["order_id"]) for o in entries] == [placed["exchange_order_id"]]
    assert stack.receiver.statuses("late-reply") == ["placed"]


async def placement_settled(stack: Stack, count: int = 1) -> None:
    """Wait until the worker's placement coroutine(s) returned (orders_placed counted)."""
    assert stack.worker is not None
    placed = stack.worker.service.metrics.orders_placed
    await eventually(lambda: placed._value.get() >= count, 8, "the placement to settle")


async def test_not_immediate_holds_when_the_first_price_seen_is_in_the_zone(
    stack: Stack,
) -> None:
    """The order arrives before the worker knows any price of its symbol (the feed gives
    no snapshot yet): the first price it sees is inside the zone, so the order arrived with
    the price in its zone and must wait for it to leave and come back."""
    client = await stack.start(
        orders={"entry_zone": {"immediate_if_in_zone": False}},
        sim={"prices": {"BTCUSDT": Decimal("65200")}},
    )
    await client.fault({"stall_feed": True})  # no ticker snapshot on subscribe
    status, body = await client.post("/api/place-order", order(id="blind-1"))
    assert status == 200, body
    assert stack.worker is not None
    assert stack.worker.service.markets.quote("BTCUSDT") is None
    await client.fault({"stall_feed": False})
    await client.price("BTCUSDT", 65300)
    await stack.seen("BTCUSDT", 65300)
    assert await client.order_state("blind-1") == "waiting_zone"
    await client.prices("BTCUSDT", 65800, 65400)
    await stack.receiver.wait_for("blind-1", "placed")


async def test_rate_limited_entry_is_sent_again_not_failed(stack: Stack) -> None:
    client = await stack.start()
    await client.fault({"reject_orders": {"count": 1, "code": 30013, "reduce_only": False}})
    status, body = await client.post("/api/place-order", order(id="rl-1"))
    assert status == 200, body
    await client.price("BTCUSDT", 65300)
    placed = await stack.receiver.wait_for("rl-1", "placed", timeout=8)
    entries = opening_orders(await client.sim_state())
    assert [str(o["order_id"]) for o in entries] == [placed["exchange_order_id"]]
    assert stack.receiver.statuses("rl-1") == ["placed"]


async def test_post_only_refusals_are_repriced_with_fresh_client_ids(stack: Stack) -> None:
    client = await stack.start()
    await client.fault(
        {
            "reject_orders": {
                "count": 2,
                "code": 40011,
                "message": "Maker only order would be filled immediately",
                "reduce_only": False,
            }
        }
    )
    status, body = await client.post("/api/place-order", order(id="po-1"))
    assert status == 200, body
    await client.price("BTCUSDT", 65300)
    placed = await stack.receiver.wait_for("po-1", "placed")
    entries = opening_orders(await client.sim_state())
    assert [str(o["order_id"]) for o in entries] == [placed["exchange_order_id"]]
    _status, detail = await client.get("/api/orders/po-1")
    client_ids = detail["facts"]["extra"]["client_ids"]
    assert len(client_ids) == len(set(client_ids)) == 3
    assert entries[0]["client_order_id"] == client_ids[-1] == placed["client_order_id"]


async def test_refused_key_fails_the_order_and_alerts(stack: Stack) -> None:
    client = await stack.start()
    await client.fault({"reject_orders": {"count": 1, "code": 30005, "reduce_only": False}})
    status, body = await client.post("/api/place-order", order(id="auth-1"))
    assert status == 200, body
    await client.price("BTCUSDT", 65300)
    failed = await stack.receiver.wait_for("auth-1", "failed")
    assert failed["error_code"] == 30005
    await eventually(lambda: "ALERT auth_refused" in stack.app_log.read_text(), 5, "the auth alert")
    assert opening_orders(await client.sim_state()) == []


async def test_a_maker_only_entry_the_exchange_cancels_unfilled_is_placed_again(
    stack: Stack,
) -> None:
    """The simulator's default, as BitMart may do it: a maker-only order that would take is
    accepted, then cancelled unfilled. The worker waits for the zone again and places a new
    attempt (a new client id: the old one is over), which then fills and is guarded."""
    client = await stack.start()
    assert stack.sim is not None
    engine = stack.sim.engine
    original = engine.submit_order
    moves = {"left": 1}

    def submit_order(req: Any, **kwargs: Any) -> Any:
        if not kwargs and req.side == 1 and moves["left"]:
            moves["left"] -= 1
            engine.set_price("BTCUSDT", Decimal("65300"))  # the market fell under the bid
        return original(req, **kwargs)

    engine.submit_order = submit_order  # type: ignore[method-assign]
    status, body = await client.post("/api/place-order", order(id="pc-1"))
    assert status == 200, body
    await client.price("BTCUSDT", 65400)

    await eventually(lambda: stack.receiver.statuses("pc-1").count("placed") == 2, 8, "2 placed")
    first, second = opening_orders(await client.sim_state())
    assert (first["state"], first["deal_size"]) == (4, "0"), "accepted, cancelled unfilled"
    assert first["client_order_id"] != second["client_order_id"]
    await client.prices("BTCUSDT", 65200, 65100)
    await stack.receiver.wait_for("pc-1", "filled")
    await client.price("BTCUSDT", 63950)
    closed = await stack.receiver.wait_for("pc-1", "closed")
    assert closed["reason"] == "stop_loss"
