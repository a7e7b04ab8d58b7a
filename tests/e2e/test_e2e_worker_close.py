"""The exit side over real sockets: refused closes, the exchange's preset firing first,
slippage, partial fills at timeout, unknown close outcomes and the ``SLTP`` log lines."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from e2e_harness import SEED_ORDER, Client, Receiver, Stack

ORDER_ID = SEED_ORDER["id"]


def closes(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Reduce-only orders on the simulator (BitMart sides 2 and 3)."""
    return [o for o in state["orders"] if o["side"] in (2, 3)]


def open_positions(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in state["positions"] if p["current_amount"] not in ("0", 0)]


async def open_long(stack: Stack, client: Client, **changes: Any) -> dict[str, Any]:
    """Place the seed's long, fill it, wait until it is guarded; returns the placed body."""
    status, body = await client.post("/api/place-order", {**SEED_ORDER, **changes})
    assert status == 200, body
    await client.price("BTCUSDT", 65300)
    placed = await stack.receiver.wait_for(ORDER_ID, "placed")
    await client.prices("BTCUSDT", 65200, 65100)
    await client.wait_state(ORDER_ID, "open")
    return placed


async def test_refused_closes_report_close_failed_alert_and_retry_until_flat(
    stack: Stack,
) -> None:
    alerts = Receiver()
    await alerts.start()
    try:
        client = await stack.start(alert_webhook_url=f"{alerts.base_url}/alert")
        await open_long(stack, client)
        await client.fault({"reject_orders": {"count": 3, "code": 40027, "reduce_only": True}})
        await client.price("BTCUSDT", 63990)  # stop-loss crossed
        failed = await stack.receiver.wait_for(ORDER_ID, "close_failed")
        assert failed["reason"] == "stop_loss"
        assert failed["error_code"] == 40027
        closed = await stack.receiver.wait_for(ORDER_ID, "closed")
        assert closed["reason"] == "stop_loss"
        assert stack.receiver.statuses(ORDER_ID) == ["placed", "filled", "close_failed", "closed"]
        state = await client.sim_state()
        assert open_positions(state) == []
        assert len(closes(state)) == 1, "only the accepted close exists on the exchange"
        assert state["faults"]["reject_orders"] is None, "all three refusals were used"
        # Retried with a growing pause: at least 0.08, 0.16, 0.4 s (0.1, 0.2, 0.5 s nominal,
        # -20 % jitter; slower hosts only add to it).
        _status, detail = await client.get(f"/api/orders/{ORDER_ID}")
        refused = [e["at_ms"] for e in detail["history"] if e["to_state"] == "close_failed"]
        retried = [e["at_ms"] for e in detail["history"] if e["reason"].startswith("retry")]
        assert len(refused) == len(retried) == 3
        pauses = [r - f for f, r in zip(refused, retried, strict=True)]
        assert all(p >= least for p, least in zip(pauses, (80, 160, 400), strict=True)), pauses
        # The operator is told once, by a CRITICAL line and by the webhook.
        await alerts_arrived(alerts, 1)
        assert [a["kind"] for a in alerts.bodies] == ["close_failed"]
        assert ORDER_ID in alerts.bodies[0]["message"]
        critical = [
            line
            for line in stack.app_log.read_text().splitlines()
            if " CRITICAL " in line and "close_failed" in line
        ]
        assert critical and ORDER_ID in critical[0]
    finally:
        await alerts.stop()


async def alerts_arrived(alerts: Receiver, count: int) -> None:
    from e2e_harness import eventually

    await eventually(lambda: len(alerts.bodies) >= count, 5, f"{count} alert(s)")


async def test_refused_closes_then_the_exchange_preset_fires(stack: Stack) -> None:
    """Our closes keep being refused; the exchange's own stop closes the position: one
    ``closed`` with the preset's fill, and nothing else is sent."""
    client = await stack.start()
    await open_long(stack, client)
    await client.fault({"reject_orders": {"count": 1000, "code": 40027, "reduce_only": True}})
    await client.price("BTCUSDT", 63990)
    await stack.receiver.wait_for(ORDER_ID, "close_failed")
    await client.price("BTCUSDT", 63800)  # below the preset (64000 - 0.2 % = 63872)
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    assert closed["reason"] == "stop_loss"
    assert closed["closed_by"] == "exchange"
    assert closed["close_order_id"]
    assert closed["close_price"] is not None
    state = await client.sim_state()
    assert open_positions(state) == []
    assert [o["origin"] for o in closes(state)] == ["stop_loss"]
    assert stack.receiver.statuses(ORDER_ID) == ["placed", "filled", "close_failed", "closed"]


@pytest.mark.parametrize(
    ("path", "reason"),
    [((64500, 63990), "stop_loss"), ((67000, 68010), "take_profit")],
)
async def test_exchange_preset_firing_first_is_one_close_reported_once(
    stack: Stack, path: tuple[int, int], reason: str
) -> None:
    client = await stack.start(orders={"exchange_backstop": {"offset_percent": 0}})
    await open_long(stack, client)
    state = await client.sim_state()
    assert sorted(p["type"] for p in state["plan_orders"] if p["state"] == 1) == [
        "stop_loss",
        "take_profit",
    ]
    await client.prices("BTCUSDT", *path)  # the preset fires inside the price move
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    assert closed["reason"] == reason
    assert closed["closed_by"] == "exchange"
    state = await client.sim_state()
    assert open_positions(state) == []
    assert [o["origin"] for o in closes(state)] == [reason], "one close: the preset's"
    assert closed["close_order_id"] == str(closes(state)[0]["order_id"])
    assert closed["close_price"] == float(closes(state)[0]["deal_avg_price"])
    assert not [p for p in state["plan_orders"] if p["state"] == 1], "no stop left behind"
    await client.wait_state(ORDER_ID, "closed")
    _status, detail = await client.get(f"/api/orders/{ORDER_ID}")
    assert [e["to_state"] for e in detail["history"]].count("closed") == 1
    _status, worker = await client.get("/status")
    assert worker["callbacks_pending"] == 0
    assert stack.receiver.statuses(ORDER_ID) == ["placed", "filled", "closed"]


@pytest.mark.parametrize(
    ("tolerance", "gap_to", "breach"),
    [
        (None, "63000", True),  # default 0.05 %: a 1.6 % gap is reported
        ("2", "63000", False),  # 2 % tolerated
        (None, "63990", False),  # 0.02 %: within the default
    ],
)
async def test_slippage_tolerance_is_checked_on_the_close(
    stack: Stack, tolerance: str | None, gap_to: str, breach: bool
) -> None:
    orders: dict[str, Any] = {}
    if tolerance is not None:
        orders["stop_loss"] = {"slippage_tolerance_percent": tolerance}
    client = await stack.start(orders=orders)
    await open_long(stack, client)
    await client.price("BTCUSDT", gap_to)
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    expected = (Decimal(64000) - Decimal(str(closed["close_price"]))) * 100 / Decimal(64000)
    assert closed["slippage_percent"] == pytest.approx(float(expected))
    assert closed["trigger_level"] == 64000
    _status, detail = await client.get(f"/api/orders/{ORDER_ID}")
    assert bool(detail["facts"]["extra"].get("slippage_breach")) is breach
    slippage_lines = [
        line for line in stack.app_log.read_text().splitlines() if "SLTP slippage" in line
    ]
    assert bool(slippage_lines) is breach


async def test_take_profit_slippage_uses_its_own_tolerance(stack: Stack) -> None:
    client = await stack.start(
        orders={
            "stop_loss": {"slippage_tolerance_percent": "5"},
            "take_profit": {"slippage_tolerance_percent": "0.001"},
        }
    )
    await open_long(stack, client)
    await client.price("BTCUSDT", 67990)
    await client.price("BTCUSDT", 68001)  # closes at the bid, 68000.9: better than the level
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    assert closed["reason"] == "take_profit"
    assert closed["slippage_percent"] < 0  # a better price is negative slippage
    _status, detail = await client.get(f"/api/orders/{ORDER_ID}")
    assert not detail["facts"]["extra"].get("slippage_breach")


@pytest.mark.parametrize("mode", ["503", "drop"])
async def test_unknown_outcome_of_the_close_closes_once(stack: Stack, mode: str) -> None:
    client = await stack.start()
    await open_long(stack, client)
    await client.fault({"order_response": {"count": 1, "mode": mode}})
    await client.price("BTCUSDT", 63990)
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    assert closed["closed_by"] == "worker"
    state = await client.sim_state()
    assert len(closes(state)) == 1, closes(state)
    assert closed["close_order_id"] == str(closes(state)[0]["order_id"])
    assert open_positions(state) == []
    assert stack.receiver.statuses(ORDER_ID) == ["placed", "filled", "closed"]


async def test_partial_fill_then_timeout_guards_what_filled(stack: Stack) -> None:
    client = await stack.start()
    status, body = await client.post("/api/place-order", {**SEED_ORDER, "timeout_seconds": 2})
    assert status == 200, body
    await client.price("BTCUSDT", 65300)
    placed = await stack.receiver.wait_for(ORDER_ID, "placed")
    fill_status = await client.sim_fill("BTCUSDT", placed["exchange_order_id"], 4)
    if fill_status == 404 and not (await client.sim_state())["open_order_ids"]:
        pytest.fail("the entry is not resting")
    if fill_status == 404:
        pytest.skip("waiting for the simulator's POST /_sim/fill")
    assert fill_status == 200
    await client.wait_state(ORDER_ID, "partially_filled")
    _status, status_body = await client.get("/api/orders/status")
    assert [p["id"] for p in status_body["monitored_positions"]] == [ORDER_ID]
    # The timeout cancels the unfilled rest and keeps the 4 contracts guarded.
    filled = await stack.receiver.wait_for(ORDER_ID, "filled", timeout=6)
    assert filled["filled_contracts"] == 4
    await client.wait_state(ORDER_ID, "open")
    state = await client.sim_state()
    assert state["open_order_ids"] == [], "the rest of the entry was cancelled"
    assert [p["current_amount"] for p in open_positions(state)] == ["4"]
    # ... and the app hears what happened on the filled callback: 4 of 10 filled, the rest
    # cancelled. No timeout callback: the position lives on and ends with one closed.
    entry_price = Decimal(str(placed["entry_price"])).normalize()
    assert filled["reason"] == (
        f"Entry order placed at {entry_price:f} filled 4 of 10 contracts at {entry_price:f} "
        "within timeout; the rest was cancelled, the filled contracts stay guarded"
    )
    assert await client.order_state(ORDER_ID) == "open"
    await client.price("BTCUSDT", 63990)
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    assert closed["reason"] == "stop_loss"
    state = await client.sim_state()
    assert open_positions(state) == []
    assert [o["size"] for o in closes(state)] == ["4"]
    assert stack.receiver.statuses(ORDER_ID) == ["placed", "filled", "closed"]


async def test_stop_during_a_partial_fill_cancels_the_rest_and_closes_it(stack: Stack) -> None:
    client = await stack.start()
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price("BTCUSDT", 65300)
    placed = await stack.receiver.wait_for(ORDER_ID, "placed")
    assert await client.sim_fill("BTCUSDT", placed["exchange_order_id"], 3) == 200
    await client.wait_state(ORDER_ID, "partially_filled")
    # A gap straight through the stop: the resting rest must not add to a closing position.
    await client.price("BTCUSDT", 63990)
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    assert closed["reason"] == "stop_loss"
    state = await client.sim_state()
    assert open_positions(state) == []
    assert state["open_order_ids"] == []
    assert sum(int(o["deal_size"]) for o in closes(state)) == sum(
        int(o["deal_size"]) for o in state["orders"] if o["side"] == 1
    )


async def test_sltp_lines_carry_sltp_in_app_log(stack: Stack) -> None:
    client = await stack.start()
    await open_long(stack, client)
    await client.prices("BTCUSDT", 67000, 68010)
    await stack.receiver.wait_for(ORDER_ID, "closed")
    lines = [line for line in stack.app_log.read_text().splitlines() if ORDER_ID in line]
    sltp = [line for line in lines if "SLTP" in line]
    for needle in ("SLTP guarding", "SLTP take_profit hit", "SLTP closed"):
        assert any(needle in line for line in sltp), (needle, sltp)


async def test_gap_through_the_zone_and_the_stop_closes_at_once(stack: Stack) -> None:
    """The resting entry fills on a fall that also crosses the stop: guarded and closed
    in the same breath, never left open."""
    client = await stack.start()
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price("BTCUSDT", 65300)
    await stack.receiver.wait_for(ORDER_ID, "placed")
    await client.price("BTCUSDT", 63990)  # fills the buy at its price, below the stop
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    assert closed["reason"] == "stop_loss"
    assert stack.receiver.statuses(ORDER_ID) == ["placed", "filled", "closed"]
    state = await client.sim_state()
    assert open_positions(state) == []
    assert len(closes(state)) == 1


async def test_close_while_the_private_socket_is_down(stack: Stack) -> None:
    """No fill push for the close: the worker asks by REST and reports it once."""
    client = await stack.start()
    await open_long(stack, client)
    await client.fault({"drop_ws": "private"})
    await client.price("BTCUSDT", 63990)
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    assert closed["reason"] == "stop_loss"
    assert closed["close_price"] is not None
    state = await client.sim_state()
    assert open_positions(state) == []
    assert len(closes(state)) == 1


async def test_exchange_preset_during_a_partial_fill_also_cancels_the_rest(
    stack: Stack,
) -> None:
    """The worker is blind (stalled feed) when the exchange's preset take-profit closes a
    partly filled position: the entry's unfilled rest must be cancelled too, or the price
    coming back would fill it into a position nobody guards (its presets are spent)."""
    client = await stack.start()
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price("BTCUSDT", 65300)
    placed = await stack.receiver.wait_for(ORDER_ID, "placed")
    assert await client.sim_fill("BTCUSDT", placed["exchange_order_id"], 3) == 200
    await client.wait_state(ORDER_ID, "partially_filled")
    await client.fault({"stall_feed": True})
    await client.price("BTCUSDT", 68200)  # above the preset take-profit (68136): it fires
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    assert closed["reason"] == "take_profit"
    assert closed["closed_by"] == "exchange"
    state = await client.sim_state()
    assert state["open_order_ids"] == [], "the entry's rest is still working"
    await client.fault({"stall_feed": False})
    await client.price("BTCUSDT", 65200)  # would fill a forgotten resting buy at 65300
    state = await client.sim_state()
    assert open_positions(state) == [], "a position nobody guards"
    assert stack.receiver.statuses(ORDER_ID) == ["placed", "closed"]


async def test_flat_by_our_own_close_whose_answers_were_lost_reports_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our stop's close filled, but its push was lost and every lookup of it failed (a
    lagging read): the position is flat with no exchange close heard of. The worker asks
    the exchange for its own close orders by client id and reports the close as its own,
    at the price it filled, rather than as the exchange's with no price."""
    from e2e_harness import eventually

    from zoneguard.worker import sltp

    monkeypatch.setattr(sltp, "CLOSE_LOOKUP_ATTEMPTS", 2)
    client = await stack.start()
    await open_long(stack, client)
    await client.fault({"drop_order_pushes": 10, "lookup_lag_ms": 600_000})
    await client.price("BTCUSDT", 63990)  # stop-loss crossed
    not_found = f"SLTP close of {ORDER_ID} not found"

    def lookups_failed() -> bool:
        return stack.app_log.read_text().count(not_found) >= sltp.CLOSE_LOOKUP_ATTEMPTS

    await eventually(lookups_failed, 30, "the close's lookups to fail")
    # The worker now finds the position flat and waits CLOSE_CONFIRM_S for an exchange
    # close; the reads catch up meanwhile.
    await client.fault({"lookup_lag_ms": 0})
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    state = await client.sim_state()
    assert open_positions(state) == []
    assert len(closes(state)) == 1, closes(state)
    close = closes(state)[0]
    assert closed["closed_by"] == "worker"
    assert closed["close_order_id"] == str(close["order_id"])
    assert Decimal(str(closed["close_price"])) == Decimal(str(close["deal_avg_price"]))
    assert stack.receiver.statuses(ORDER_ID) == ["placed", "filled", "closed"]
