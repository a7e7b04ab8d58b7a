"""What the app concludes on its own (a refused redelivery, an operator's cancel of an order
the worker never had) never overrides what the worker reported, and gives way to it."""

from __future__ import annotations

from typing import Any

import pytest
from app_harness import SIGNAL, AppStarter, FakeWorker, RunningApp, eventually

from zoneguard.app.bus import table
from zoneguard.app.messages import PlaceOrderMessage

EXISTS = (409, {"ok": False, "error": "id: order x exists with a different body"})
UNKNOWN = (404, {"ok": False, "error": "order_id: order x is unknown"})
ACCEPTED = (200, {"ok": True, "status": "waiting_zone"})


async def order_of(app: RunningApp, order_id: str) -> dict[str, Any]:
    status, body = await app.http.get(f"/api/orders/{order_id}")
    assert status == 200, body
    detail: dict[str, Any] = body
    return detail


async def callback(app: RunningApp, order_id: str, status: str, **fields: Any) -> None:
    body = {"order_id": order_id, "status": status, "event_id": f"{order_id}-{status}", **fields}
    answer = await app.http.post("/api/orders/callback", body)
    assert answer == (200, {"status": "ok"}), answer


async def status_becomes(app: RunningApp, order_id: str, wanted: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        detail = await order_of(app, order_id)
        return detail if detail["status"] == wanted else None

    found: dict[str, Any] = await eventually(check, what=wanted)
    return found


async def redeliver(app: RunningApp, order_id: str) -> None:
    """The bus hands the PlaceOrderMessage over again (at-least-once)."""
    detail = await order_of(app, order_id)
    message = PlaceOrderMessage(
        order_id=order_id,
        symbol=detail["symbol"],
        side=detail["side"],
        entry_zone_min=detail["entry_zone_min"],
        entry_zone_max=detail["entry_zone_max"],
        quantity=detail["quantity"],
        leverage=detail["leverage"],
        timeout_seconds=detail["timeout_seconds"],
    )
    await app.runtime.db.run(lambda s: table.enqueue(s, message, now_ms=0))
    app.runtime.enqueued()

    async def settled() -> bool:
        return bool(await app.runtime.db.run(table.pending_count) == 0)

    await eventually(settled, what="the redelivery handled")


async def open_position(app: RunningApp, fake_worker: FakeWorker) -> str:
    _, body = await app.http.post("/api/signals", SIGNAL)
    order_id: str = body["id"]
    await status_becomes(app, order_id, "submitted")
    await callback(app, order_id, "placed", exchange_order_id="1")
    await callback(app, order_id, "filled", entry_price="65100", quantity="0.01")
    return order_id


async def test_a_refused_redelivery_does_not_end_an_order_the_worker_reported_on(
    start_app: AppStarter, database_url: str, fake_worker: FakeWorker
) -> None:
    app = await start_app(database_url, ws_worker_base_url=fake_worker.url)
    order_id = await open_position(app, fake_worker)
    fake_worker.replies = [(422, {"ok": False, "error": "side: BTCUSDT long is busy"})]
    await redeliver(app, order_id)
    order = await order_of(app, order_id)
    assert (order["status"], order["error"]) == ("filled", None)
    assert order["position"]["status"] == "open"
    refusal = order["transitions"][-1]
    assert (refusal["event"], refusal["applied"], refusal["to_status"]) == (
        "failed",
        False,
        "filled",
    )
    # The worker's later news still applies: a refused close is not "stale".
    await callback(app, order_id, "close_failed", reason="stop_loss", error="exchange busy")
    order = await order_of(app, order_id)
    assert (order["status"], order["position"]["status"]) == ("close_failed", "close_failed")


async def test_a_409_to_a_redelivery_the_worker_already_holds_is_no_refusal(
    start_app: AppStarter, database_url: str, fake_worker: FakeWorker
) -> None:
    # The first delivery reached the worker but its answer was lost (here: a 503); the
    # redelivery's body differs (callback_url moved), so the worker answers 409.
    fake_worker.replies = [(503, {"ok": False, "error": "answer lost"}), EXISTS, ACCEPTED]
    app = await start_app(database_url, ws_worker_base_url=fake_worker.url)
    _, body = await app.http.post("/api/signals", SIGNAL)
    order_id = body["id"]
    order = await status_becomes(app, order_id, "submitted")
    assert order["error"] is None
    assert "worker holds it" in order["reason"]
    paths = [path for _m, path, _h, _b in fake_worker.requests]
    assert paths == ["/api/place-order", "/api/place-order", f"/api/orders/{order_id}"]
    await callback(app, order_id, "placed", exchange_order_id="1")
    assert (await order_of(app, order_id))["status"] == "placed"


async def test_a_409_for_an_order_the_worker_does_not_hold_is_a_refusal(
    start_app: AppStarter, database_url: str, fake_worker: FakeWorker
) -> None:
    busy = (409, {"ok": False, "error": "side: BTCUSDT long already has order y"})
    fake_worker.replies = [busy, UNKNOWN]
    app = await start_app(database_url, ws_worker_base_url=fake_worker.url)
    _, body = await app.http.post("/api/signals", SIGNAL)
    order = await status_becomes(app, body["id"], "failed")
    assert "already has order y" in order["error"]


async def test_the_workers_word_overrides_the_apps_conclusion(
    start_app: AppStarter, database_url: str, fake_worker: FakeWorker
) -> None:
    fake_worker.replies = [(422, {"ok": False, "error": "quantity: too small"})]
    app = await start_app(database_url, ws_worker_base_url=fake_worker.url)
    _, body = await app.http.post("/api/signals", SIGNAL)
    order_id = body["id"]
    await status_becomes(app, order_id, "failed")
    # Whatever the refusal said, the worker reports the order placed: believe the worker.
    await callback(app, order_id, "placed", exchange_order_id="7")
    order = await order_of(app, order_id)
    assert (order["status"], order["exchange_order_id"], order["error"]) == ("placed", "7", None)
    refusal = next(t for t in order["transitions"] if t["event"] == "failed")
    assert "quantity: too small" in refusal["error"]  # kept in the history


async def test_cancelling_an_order_the_worker_never_had_keeps_it_off_the_worker(
    start_app: AppStarter, database_url: str, fake_worker: FakeWorker
) -> None:
    # The message waits on the bus (no consumer yet, as in a retry backoff).
    app = await start_app(database_url, consume=False, ws_worker_base_url=fake_worker.url)
    _, body = await app.http.post("/api/signals", SIGNAL)
    order_id = body["id"]
    fake_worker.replies = [UNKNOWN]
    status, answer = await app.http.post(f"/api/orders/{order_id}/cancel")
    assert (status, answer["status"], answer["cancelled_by"]) == (200, "cancelled", "app")
    order = await order_of(app, order_id)
    assert order["status"] == "cancelled"
    assert order["transitions"][-1]["source"] == "api"
    # The consumer starts: the waiting message is dropped, the order never placed.
    fake_worker.replies = [UNKNOWN]
    consumer = await start_app(database_url, ws_worker_base_url=fake_worker.url)

    async def settled() -> bool:
        return bool(await consumer.runtime.db.run(table.pending_count) == 0)

    await eventually(settled, what="the message dropped")
    paths = [path for _m, path, _h, _b in fake_worker.requests]
    assert "/api/place-order" not in paths
    assert (await order_of(app, order_id))["status"] == "cancelled"


@pytest.mark.parametrize("recorded_first", ["the cancel", "the acceptance"])
async def test_an_order_that_crossed_the_cancel_is_cancelled_on_the_worker(
    start_app: AppStarter, database_url: str, fake_worker: FakeWorker, recorded_first: str
) -> None:
    """The worker answers the cancel's 404 and then takes the place-order; whichever of the
    two answers the app records first, the worker is asked to cancel after it took it."""
    cancelled = (200, {"ok": True, "status": "cancelled"})
    if recorded_first == "the cancel":
        fake_worker.delays = {"/place-order": 0.6, "/cancel": 0.0}
        fake_worker.replies = [UNKNOWN, ACCEPTED, cancelled]
    else:
        fake_worker.delays = {"/place-order": 0.2, "/cancel": 0.6}
        fake_worker.replies = [ACCEPTED, UNKNOWN, cancelled]
    app = await start_app(database_url, ws_worker_base_url=fake_worker.url)
    _, body = await app.http.post("/api/signals", SIGNAL)
    order_id = body["id"]
    await eventually(lambda: fake_worker.requests, what="place-order sent")
    status, answer = await app.http.post(f"/api/orders/{order_id}/cancel")
    assert (status, answer["status"]) == (200, "cancelled")

    def cancels() -> int:
        return sum(path.endswith("/cancel") for _m, path, _h, _b in fake_worker.requests)

    await eventually(lambda: cancels() == 2, what="the worker asked again")
    await eventually(lambda: not fake_worker.replies, what="every answer given")
    order = await order_of(app, order_id)
    assert order["status"] == "cancelled"
    assert {t["event"] for t in order["transitions"]} >= {"submitted", "cancelled"}
    # The worker confirms with its own callback, or reports a fill first: either applies.
    await callback(app, order_id, "filled", entry_price="65100", quantity="0.01")
    assert (await order_of(app, order_id))["status"] == "filled"


async def test_a_cancel_the_worker_does_not_know_after_it_reported_passes_the_404_on(
    start_app: AppStarter, database_url: str, fake_worker: FakeWorker
) -> None:
    app = await start_app(database_url, consume=False, ws_worker_base_url=fake_worker.url)
    _, body = await app.http.post("/api/signals", SIGNAL)
    order_id = body["id"]
    await callback(app, order_id, "placed", exchange_order_id="1")
    fake_worker.replies = [UNKNOWN]
    status, answer = await app.http.post(f"/api/orders/{order_id}/cancel")
    assert status == 404
    assert "unknown" in answer["error"]
    assert (await order_of(app, order_id))["status"] == "placed"
