"""An exchange that does not behave as a happy path expects, over real sockets: the
simulator's faults stand for what BitMart does on a bad day.

- a close that fills only part of the position (thin book): the rest is closed too, and
  ``closed`` is reported once, for the whole position;
- an entry whose reply is lost while order reads lag the writes: the resend is refused as a
  duplicate (proof it exists) and the worker waits for it to show, never calls it failed;
- a fill push lost on the way: the position push (or the periodic check) finds the fill;
- a timeout cancel the exchange refuses: asked again until the entry is gone;
- an operator cancel while the entry is in flight and refused: it ends cancelled, not
  re-armed for the next touch of the zone.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from e2e_harness import SEED_ORDER, Client, Stack

ORDER_ID = str(SEED_ORDER["id"])
SYMBOL = "BTCUSDT"


def entries(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in state["orders"] if o["side"] in (1, 4)]


def closes(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in state["orders"] if o["side"] in (2, 3)]


def held(state: dict[str, Any]) -> Decimal:
    return sum(
        (Decimal(str(p["current_amount"])) for p in state["positions"] if p["symbol"] == SYMBOL),
        Decimal(0),
    )


async def open_long(stack: Stack, client: Client) -> None:
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price(SYMBOL, 65300)
    await stack.receiver.wait_for(ORDER_ID, "placed")
    await client.prices(SYMBOL, 65200, 65100)
    await client.wait_state(ORDER_ID, "open")


async def test_a_close_that_fills_part_of_the_position_closes_the_rest(stack: Stack) -> None:
    client = await stack.start()
    await open_long(stack, client)
    await client.fault({"thin_book": {"count": 1, "contracts": 3, "reduce_only": True}})
    await client.price(SYMBOL, 63950)  # under the SL (64000), above the exchange's preset

    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    state = await client.sim_state()
    assert held(state) == 0, "no contract left unguarded"
    assert [(o["deal_size"], o["size"]) for o in closes(state)] == [("3", "10"), ("7", "7")]
    assert stack.receiver.statuses(ORDER_ID) == ["placed", "filled", "closed"]
    assert (closed["reason"], closed["closed_by"]) == ("stop_loss", "worker")
    fills = [(Decimal(o["deal_size"]), Decimal(str(o["deal_avg_price"]))) for o in closes(state)]
    average = sum((size * price for size, price in fills), Decimal(0)) / 10
    assert Decimal(str(closed["close_price"])) == average
    _status, body = await client.get("/api/orders/status")
    assert body["monitored_positions"] == []


async def test_an_entry_refused_as_a_duplicate_is_waited_for_not_failed(stack: Stack) -> None:
    client = await stack.start()
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    # The entry lands but its reply and its order push are lost, and for 5 s no read shows
    # it: the lookup says "absent", the resend is refused as a duplicate.
    await client.fault(
        {
            "order_response": {"count": 1, "mode": "drop"},
            "drop_order_pushes": 1,
            "lookup_lag_ms": 5000,
        }
    )
    await client.price(SYMBOL, 65400)

    placed = await stack.receiver.wait_for(ORDER_ID, "placed", timeout=20)
    (entry,) = entries(await client.sim_state())
    assert str(placed["exchange_order_id"]) == str(entry["order_id"])
    assert "failed" not in stack.receiver.statuses(ORDER_ID)
    await client.price(SYMBOL, 65300)
    await stack.receiver.wait_for(ORDER_ID, "filled")


async def test_a_lost_fill_push_is_found_and_the_position_guarded(stack: Stack) -> None:
    client = await stack.start()
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price(SYMBOL, 65300)
    await stack.receiver.wait_for(ORDER_ID, "placed")
    await client.fault({"drop_order_pushes": 100})  # the order channel goes quiet
    await client.prices(SYMBOL, 65200, 65100)  # the entry fills: no order push says so

    await stack.receiver.wait_for(ORDER_ID, "filled", timeout=10)
    await client.wait_state(ORDER_ID, "open")
    await client.price(SYMBOL, 63950)
    closed = await stack.receiver.wait_for(ORDER_ID, "closed", timeout=10)
    assert closed["reason"] == "stop_loss"
    assert held(await client.sim_state()) == 0


async def test_a_refused_timeout_cancel_is_asked_again_until_the_entry_is_gone(
    stack: Stack,
) -> None:
    client = await stack.start()
    status, body = await client.post("/api/place-order", {**SEED_ORDER, "timeout_seconds": 2})
    assert status == 200, body
    await client.price(SYMBOL, 65400)
    await stack.receiver.wait_for(ORDER_ID, "placed")
    # "Order not exist" while it rests: a read-after-write lag, or a refusal, not an end.
    await client.fault({"reject_cancels": {"count": 2, "code": 40035}})

    await stack.receiver.wait_for(ORDER_ID, "timeout", timeout=15)
    state = await client.sim_state()
    assert state["open_order_ids"] == []
    assert state["faults"]["reject_cancels"] is None, "both refusals were met"
    await client.price(SYMBOL, 65000)  # would have filled the resting buy
    assert held(await client.sim_state()) == 0


async def test_a_cancel_while_the_entry_is_refused_ends_the_order(stack: Stack) -> None:
    client = await stack.start()
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    maker_refusal = {
        "count": 1,
        "code": 40011,
        "message": "Maker only order would be filled immediately",
        "reduce_only": False,
    }
    await client.fault({"reject_orders": maker_refusal, "rest_delay_ms": 400})
    await client.price(SYMBOL, 65400)
    await client.wait_state(ORDER_ID, "placing")
    status, body = await client.post(f"/api/orders/{ORDER_ID}/cancel")
    assert status == 202, body
    await client.price(SYMBOL, 66000)  # the zone is left while the refusal travels

    await stack.receiver.wait_for(ORDER_ID, "cancelled", timeout=10)
    await client.fault({"clear": True})
    await client.price(SYMBOL, 65400)  # the zone again: nothing may be placed now
    await stack.seen(SYMBOL, 65400)
    assert entries(await client.sim_state()) == []
    assert stack.receiver.statuses(ORDER_ID) == ["cancelled"]
