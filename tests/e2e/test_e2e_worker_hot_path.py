"""The price-to-order hot path over real sockets: the order leaves on the warm order lane
inside the price handler, after its client id is noted in the intent log, before its
``placing``/``closing`` row is journaled (right after, in the same step) and before the
log lines about it are written."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from e2e_harness import CLOSE_SIDES, SEED_ORDER, Client, Stack

from zoneguard.exchange.bitmart.adapter import BitMartExchange
from zoneguard.worker.intents import IntentLog

ORDER_ID = SEED_ORDER["id"]


def journaled(var_dir: Path, order_id: str) -> tuple[str, dict[str, Any]]:
    """The order's state and facts as another reader of the journal sees them now."""
    import orjson

    with sqlite3.connect(var_dir / "worker.db") as db:
        state, data = db.execute(
            "SELECT state, data FROM orders WHERE order_id = ?", (order_id,)
        ).fetchone()
    return state, orjson.loads(data)


def spy_on_sends(
    exchange: BitMartExchange, check: Callable[[dict[str, Any]], None]
) -> list[dict[str, Any]]:
    """Run ``check`` on each submit-order body just before the lane writes it; list the
    bodies the lane did send."""
    through_lane: list[dict[str, Any]] = []
    rest = exchange.rest
    original = rest.submit_order_now

    def submit_order_now(body: Mapping[str, object]) -> Awaitable[dict[str, Any]] | None:
        check(dict(body))
        sent = original(body)
        if sent is not None:
            through_lane.append(dict(body))
        return sent

    rest.submit_order_now = submit_order_now  # type: ignore[method-assign]
    return through_lane


async def lane_ready(stack: Stack) -> BitMartExchange:
    assert stack.worker is not None
    exchange = stack.worker.service.exchange
    assert isinstance(exchange, BitMartExchange)
    lane = exchange._lane
    assert lane is not None
    assert await lane.wait_ready(5)
    return exchange


async def test_entry_and_stop_are_journaled_then_sent_on_the_lane_then_logged(
    stack: Stack, tmp_path: Path
) -> None:
    client: Client = await stack.start()
    exchange = await lane_ready(stack)
    at_send: list[tuple[str, str, str | None, bool]] = []

    def check(body: dict[str, Any]) -> None:
        closing = body["side"] in CLOSE_SIDES
        state, _facts = journaled(tmp_path, ORDER_ID)
        (noted, *_) = reversed(IntentLog(tmp_path / "intents.log").read())
        assert (noted.order_id, noted.kind) == (ORDER_ID, "close" if closing else "entry")
        log = stack.app_log.read_text() if stack.app_log.exists() else ""
        marker = "SLTP stop_loss hit" if closing else "entered zone"
        at_send.append((state, str(body["client_order_id"]), noted.client_order_id, marker in log))

    through_lane = spy_on_sends(exchange, check)
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price("BTCUSDT", 65300)  # in the zone: the entry
    await stack.receiver.wait_for(ORDER_ID, "placed")
    await client.prices("BTCUSDT", 65200, 65100)  # it fills
    await stack.receiver.wait_for(ORDER_ID, "filled")
    await client.price("BTCUSDT", 63950)  # under the stop-loss: the close
    await stack.receiver.wait_for(ORDER_ID, "closed")

    assert [body["side"] in CLOSE_SIDES for body in through_lane] == [False, True]
    (entry_state, entry_cid, entry_noted_cid, entry_logged), close = at_send
    assert entry_state == "waiting_zone", "the entry waited for its journal commit"
    assert entry_cid == entry_noted_cid, "the client id it carries was noted first"
    assert not entry_logged, "the entry waited for its log lines"
    close_state, close_cid, close_noted_cid, close_logged = close
    assert close_state == "open"
    assert close_cid == close_noted_cid
    assert not close_logged
    _status, detail = await client.get(f"/api/orders/{ORDER_ID}")
    moves = [(e["to_state"], e["reason"]) for e in detail["history"]]
    assert ("placing", "price entered the zone") in moves and ("closing", "stop_loss") in moves
    facts = detail["facts"]
    assert (facts["entry_client_id"], facts["close_client_id"]) == (entry_cid, close_cid)
    log = stack.app_log.read_text()
    assert "entered zone" in log and "SLTP stop_loss hit" in log  # written, just after


async def test_a_busy_lane_falls_back_to_the_pooled_session(stack: Stack) -> None:
    client: Client = await stack.start()
    exchange = await lane_ready(stack)
    declined: list[Mapping[str, object]] = []
    original = exchange.rest.submit_order_now

    def no_lane(body: Mapping[str, object]) -> None:
        declined.append(body)  # as when every lane connection is busy: nothing sent
        return None

    exchange.rest.submit_order_now = no_lane  # type: ignore[method-assign]
    try:
        status, body = await client.post("/api/place-order", SEED_ORDER)
        assert status == 200, body
        await client.price("BTCUSDT", 65300)
        placed = await stack.receiver.wait_for(ORDER_ID, "placed")
    finally:
        exchange.rest.submit_order_now = original  # type: ignore[method-assign]
    assert placed["exchange_order_id"]
    assert declined, "the lane was asked first"
