"""POST /api/signals: validation naming the field, the lifecycle row and its bus message
written in one transaction, idempotency."""

from __future__ import annotations

from typing import Any

import pytest
from app_harness import SIGNAL, AppStarter, sqlite_url
from sqlalchemy import func, select

from zoneguard.app.bus import table
from zoneguard.app.db.models import OrderLifecycle, OrderTransition, QueuedMessage
from zoneguard.app.messages import PlaceOrderMessage, decode_message


async def test_a_signal_becomes_a_queued_lifecycle_and_one_place_order_message(
    start_app: AppStarter, database_url: str
) -> None:
    app = await start_app(database_url, consume=False)
    status, body = await app.http.post("/api/signals", SIGNAL)
    assert status == 201, body
    order_id = body["id"]
    assert order_id.startswith("order-")
    assert body["status"] == "queued"

    def read(session: Any) -> tuple[OrderLifecycle | None, list[QueuedMessage]]:
        order = session.get(OrderLifecycle, order_id)
        return order, list(session.scalars(select(QueuedMessage)).all())

    order, queued = await app.runtime.db.run(read)
    assert order is not None
    assert (order.symbol, order.side, order.status) == ("BTCUSDT", "long", "queued")
    assert str(order.entry_zone_min) == "65000"
    assert str(order.quantity) == "0.01"
    assert order.signal_metadata == {"strategy": "high_conviction"}
    assert len(queued) == 1
    message = decode_message(queued[0].message_type, queued[0].body)
    assert isinstance(message, PlaceOrderMessage)
    assert message.order_id == order_id
    assert str(message.stop_loss) == "64000"
    assert str(message.take_profit) == "68000"
    assert message.timeout_seconds == 300


async def test_signal_ids_are_unique(start_app: AppStarter, database_url: str) -> None:
    app = await start_app(database_url, consume=False)
    ids = set()
    for _ in range(5):
        status, body = await app.http.post("/api/signals", SIGNAL)
        assert status == 201
        ids.add(body["id"])
    assert len(ids) == 5


async def test_a_failing_enqueue_rolls_the_lifecycle_back(
    start_app: AppStarter, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await start_app(database_url, consume=False)

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("bus table unavailable")

    monkeypatch.setattr(table, "enqueue", broken)
    status, _body = await app.http.post("/api/signals", SIGNAL)
    assert status == 500
    monkeypatch.undo()
    counts = await app.runtime.db.run(
        lambda s: (
            s.scalar(select(func.count()).select_from(OrderLifecycle)),
            s.scalar(select(func.count()).select_from(OrderTransition)),
            s.scalar(select(func.count()).select_from(QueuedMessage)),
        )
    )
    assert counts == (0, 0, 0)
    status, _body = await app.http.post("/api/signals", SIGNAL)
    assert status == 201  # and the next one goes through whole


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"side": "up"}, "side"),
        ({"symbol": "BTC/USDT"}, "symbol"),
        ({"entry_zone_min": 66000}, "entry_zone_min"),
        ({"quantity": -1}, "quantity"),
        ({"quantity": "abc"}, "quantity"),
        ({"leverage": 0}, "leverage"),
        ({"stop_loss": 65200}, "stop_loss"),
        ({"take_profit": 65100}, "take_profit"),
        ({"timeout_seconds": 1.5}, "timeout_seconds"),
        ({"metadata": [1, 2]}, "metadata"),
        ({"stop_los": 1}, "stop_los"),
        ({"id": "mine"}, "id"),
        ({"callback_url": "http://x"}, "callback_url"),
    ],
)
async def test_bad_signals_are_a_422_naming_the_field(
    start_app: AppStarter, tmp_path: Any, change: dict[str, Any], field: str
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False)
    status, body = await app.http.post("/api/signals", {**SIGNAL, **change})
    assert status == 422, body
    assert field in [f["field"] for f in body["fields"]]
    assert body["error"].startswith(field) or f"; {field}" in body["error"]
    orders = await app.http.get("/api/orders")
    assert orders[1]["orders"] == []


async def test_missing_fields_and_non_json_bodies(start_app: AppStarter, tmp_path: Any) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False)
    status, body = await app.http.post("/api/signals", {"side": "long"})
    assert status == 422
    named = {f["field"] for f in body["fields"]}
    assert {"symbol", "entry_zone_min", "entry_zone_max", "quantity"} <= named
    status, body = await app.http.post("/api/signals", raw=b"{not json")
    assert (status, body["fields"][0]["field"]) == (400, "body")
    status, body = await app.http.post("/api/signals", raw=b"[1]")
    assert (status, body["fields"][0]["field"]) == (400, "body")


async def test_an_idempotency_key_makes_a_resent_signal_return_the_same_order(
    start_app: AppStarter, database_url: str
) -> None:
    app = await start_app(database_url, consume=False)
    headers = {"Idempotency-Key": "cli-7f1c"}
    first = await app.http.post("/api/signals", SIGNAL, headers=headers)
    again = await app.http.post("/api/signals", SIGNAL, headers=headers)
    assert first[0] == 201
    assert again[0] == 200
    assert again[1]["id"] == first[1]["id"]
    other = await app.http.post("/api/signals", {**SIGNAL, "quantity": 0.02}, headers=headers)
    assert other[0] == 409
    assert other[1]["fields"][0]["field"] == "Idempotency-Key"
    pending = await app.runtime.db.run(table.pending_count)
    assert pending == 1
