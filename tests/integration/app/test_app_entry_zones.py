"""Several entry zones (pyramiding) through the app: a signal's ``entry_zones`` are read by
the domain's parser (a 422 names the JSON path), kept with the order, sent to the worker
instead of the seed's zone, and part of an Idempotency-Key's signal; the worker's
``placed`` / ``filled`` with ``entry_index`` move the order for its first entry and are
notes for a later zone's (a later fill setting the totals, never reopening a closed
position), and ``entry_progress`` shows each zone. On SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from app_harness import SIGNAL, AppStarter, FakeWorker, eventually, sqlite_url
from sqlalchemy import select

from zoneguard.app.db.models import OrderLifecycle, QueuedMessage
from zoneguard.app.messages import PlaceOrderMessage, decode_message
from zoneguard.worker.journal import encode_json
from zoneguard.worker.outbox import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    build_callback_body,
    sign_callback,
)

ZONES = [
    {"min": 65200, "max": 65500, "size_percent": 50},
    {"min": "64800", "max": "65000", "size_percent": "50"},
]
ZONED: dict[str, Any] = {
    **{k: v for k, v in SIGNAL.items() if not k.startswith("entry_zone_")},
    "entry_zones": ZONES,
}
STORED = [
    {"min": "65200", "max": "65500", "size_percent": "50"},
    {"min": "64800", "max": "65000", "size_percent": "50"},
]
"""The zones as the app keeps and shows them: exact decimal strings."""


async def test_a_signal_with_entry_zones_is_kept_and_its_message_carries_them(
    start_app: AppStarter, database_url: str
) -> None:
    app = await start_app(database_url, consume=False)
    status, body = await app.http.post("/api/signals", ZONED)
    assert status == 201, body
    order_id = body["id"]
    view = body["order"]
    assert view["entry_zones"] == STORED
    assert (view["entry_zone_min"], view["entry_zone_max"]) == ("64800", "65500"), "the span"

    def read(session: Any) -> tuple[OrderLifecycle | None, list[QueuedMessage]]:
        return session.get(OrderLifecycle, order_id), list(session.scalars(select(QueuedMessage)))

    order, queued = await app.runtime.db.run(read)
    assert order is not None and order.entry_zones == STORED
    (row,) = queued
    message = decode_message(row.message_type, row.body)
    assert isinstance(message, PlaceOrderMessage)
    assert message.entry_zones == STORED
    _, detail = await app.http.get(f"/api/orders/{order_id}")
    assert detail["entry_zones"] == STORED
    _, listed = await app.http.get("/api/orders")
    assert listed["orders"][0]["entry_zones"] == STORED
    # A seed signal keeps its one zone, without entry_zones.
    status, body = await app.http.post("/api/signals", SIGNAL)
    assert status == 201 and body["order"]["entry_zones"] is None


async def test_the_orders_log_names_each_zone(
    start_app: AppStarter, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False)
    with caplog.at_level("INFO", logger="zoneguard.orders"):
        await app.http.post("/api/signals", ZONED)
        await app.http.post("/api/signals", SIGNAL)
    received = [r.getMessage() for r in caplog.records if "signal received" in r.getMessage()]
    assert received == [
        "signal received: BTCUSDT long zone 65200..65500 (50%) 64800..65000 (50%) qty 0.01",
        "signal received: BTCUSDT long zone 65000..65500 qty 0.01",
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"entry_zone_min": 65000}, "entry_zone_min"),
        ({"entry_zone_max": 65500}, "entry_zone_max"),
        ({"entry_zones": [ZONES[0], {"min": 64800, "size_percent": 50}]}, "entry_zones[1].max"),
        (
            {"entry_zones": [ZONES[0], {"min": 64800, "max": "x", "size_percent": 50}]},
            "entry_zones[1].max",
        ),
        (
            {"entry_zones": [{"min": 65500, "max": 65200, "size_percent": 50}, ZONES[1]]},
            "entry_zones[0].min",
        ),
        (
            {"entry_zones": [ZONES[0], {"min": 65400, "max": 65600, "size_percent": 50}]},
            "entry_zones[1]",
        ),
        ({"entry_zones": [ZONES[0], {**ZONES[1], "size_percent": 40}]}, "entry_zones"),
        ({"entry_zones": []}, "entry_zones"),
        ({"entry_zones": [ZONES[0], {**ZONES[1], "size": 1}]}, "entry_zones[1].size"),
        ({"entry_zones": [{**ZONES[1], "size_percent": 100}], "stop_loss": 64900}, "stop_loss"),
    ],
)
async def test_bad_entry_zones_are_a_422_naming_the_json_path(
    start_app: AppStarter, tmp_path: Any, change: dict[str, Any], field: str
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False)
    status, body = await app.http.post("/api/signals", {**ZONED, **change})
    assert status == 422, body
    assert field in [f["field"] for f in body["fields"]], body
    _, orders = await app.http.get("/api/orders")
    assert orders["orders"] == []


async def test_the_idempotency_key_holds_the_zones_too(
    start_app: AppStarter, database_url: str
) -> None:
    app = await start_app(database_url, consume=False)
    headers = {"Idempotency-Key": "zones-1"}
    first = await app.http.post("/api/signals", ZONED, headers=headers)
    again = await app.http.post("/api/signals", ZONED, headers=headers)
    assert (first[0], again[0]) == (201, 200)
    assert again[1]["id"] == first[1]["id"]
    shifted = [ZONES[0], {**ZONES[1], "min": 64700}]
    for other in (
        {**ZONED, "entry_zones": shifted},
        {
            **ZONED,
            "entry_zones": [{**z, "size_percent": p} for z, p in zip(ZONES, (60, 40), strict=True)],
        },
        {**SIGNAL, "entry_zone_min": 64800},  # the same span as one seed zone
    ):
        status, body = await app.http.post("/api/signals", other, headers=headers)
        assert status == 409, (other, body)
        assert body["fields"][0]["field"] == "Idempotency-Key"


async def test_the_worker_is_sent_the_zones_in_place_of_the_seeds_zone(
    start_app: AppStarter, database_url: str, fake_worker: FakeWorker
) -> None:
    app = await start_app(database_url, ws_worker_base_url=fake_worker.url)
    _, body = await app.http.post("/api/signals", ZONED)
    await eventually(lambda: fake_worker.bodies("/api/place-order"), what="place-order")
    (payload,) = fake_worker.bodies("/api/place-order")
    assert payload["id"] == body["id"]
    assert payload["entry_zones"] == STORED
    assert "entry_zone_min" not in payload and "entry_zone_max" not in payload
    await eventually(lambda: _status(app, body["id"]), what="submitted")


async def _status(app: Any, order_id: str) -> bool:
    _, detail = await app.http.get(f"/api/orders/{order_id}")
    return bool(detail["status"] == "submitted")


# -- the worker's callbacks of a plan with entry zones (the contract: docs/README)

SECRET = "zones-callback-secret"


async def send(app: Any, status: str, fields: dict[str, Any]) -> tuple[int, Any]:
    """A callback as the worker signs and sends it."""
    body = build_callback_body(status, fields, event_id=uuid.uuid4().hex, at_ms=now_ms())
    raw = encode_json(body)
    stamp = str(now_ms())
    headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign_callback(SECRET, stamp, raw)}
    result: tuple[int, Any] = await app.http.post("/api/orders/callback", raw=raw, headers=headers)
    return result


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def placed(order_id: str, k: int, exchange_id: str, limit: float) -> dict[str, Any]:
    """Zone ``k``'s entry order rests on the exchange (5 contracts at ``limit``)."""
    return {
        "order_id": order_id,
        "entry_index": k,
        "exchange_order_id": exchange_id,
        "client_order_id": f"zg-{k}",
        "entry_price": limit,
        "quantity": 0.01,
        "contracts": 5,
    }


def filled(
    order_id: str, k: int, exchange_id: str, zone: tuple[int, float], total: tuple[int, float]
) -> dict[str, Any]:
    """Zone ``k``'s fill (``zone``: its own contracts and price) and the whole position's so
    far (``total``: contracts, size-weighted average entry)."""
    return {
        "order_id": order_id,
        "entry_index": k,
        "exchange_order_id": exchange_id,
        "zone_filled_contracts": zone[0],
        "zone_entry_price": zone[1],
        "filled_contracts": total[0],
        "entry_price": total[1],
        "quantity": 0.01,
    }


def closed(order_id: str, reason: str, price: float, contracts: int) -> dict[str, Any]:
    return {
        "position_id": order_id,
        "order_id": order_id,
        "close_order_id": "close-1",
        "reason": reason,
        "close_price": price,
        "filled_contracts": contracts,
    }


async def zoned_order(app: Any) -> str:
    status, body = await app.http.post("/api/signals", ZONED)
    assert status == 201, body
    order_id: str = body["id"]
    return order_id


async def detail(app: Any, order_id: str) -> dict[str, Any]:
    status, body = await app.http.get(f"/api/orders/{order_id}")
    assert status == 200, body
    result: dict[str, Any] = body
    return result


def states(order: dict[str, Any]) -> list[str]:
    return [zone["state"] for zone in order["entry_progress"]["zones"]]


async def test_each_zone_is_placed_and_filled_and_a_later_zone_is_a_note_that_moves_nothing_back(
    start_app: AppStarter, database_url: str
) -> None:
    app = await start_app(database_url, consume=False, callback_secret=SECRET)
    order_id = await zoned_order(app)
    order = await detail(app, order_id)
    assert states(order) == ["waiting", "waiting"]
    assert order["entry_progress"]["zones"][0] == {
        "index": 1,
        **STORED[0],
        "state": "waiting",
    }

    assert await send(app, "placed", placed(order_id, 1, "ex-1", 65400)) == (200, {"status": "ok"})
    order = await detail(app, order_id)
    assert (order["status"], order["exchange_order_id"]) == ("placed", "ex-1")
    assert states(order) == ["placed", "waiting"]
    first = order["entry_progress"]["zones"][0]
    assert (first["limit_price"], first["contracts"], first["client_order_id"]) == (
        "65400",
        "5",
        "zg-1",
    )

    zone_1 = filled(order_id, 1, "ex-1", (5, 65390.5), (5, 65390.5))
    assert await send(app, "filled", zone_1) == (200, {"status": "ok"})
    order = await detail(app, order_id)
    assert (order["status"], order["filled_contracts"], order["entry_price"]) == (
        "filled",
        "5",
        "65390.5",
    )
    assert order["position"]["status"] == "open"

    # Zone 2 is entered once the position exists: a note, the order stays filled.
    assert await send(app, "placed", placed(order_id, 2, "ex-2", 64900)) == (200, {"status": "ok"})
    order = await detail(app, order_id)
    assert order["status"] == "filled", "a later zone's placed moves nothing back"
    assert (order["exchange_order_id"], order["entry_price"]) == ("ex-1", "65390.5")
    assert states(order) == ["filled", "placed"]
    note = order["transitions"][-1]
    assert (note["event"], note["applied"], note["from_status"], note["to_status"]) == (
        "placed",
        False,
        "filled",
        "filled",
    )
    assert note["data"]["entry_index"] == 2, "kept with its body, like partially_closed"

    zone_2 = filled(order_id, 2, "ex-2", (5, 64900), (10, 65145.25))
    assert await send(app, "filled", zone_2) == (200, {"status": "ok"})
    order = await detail(app, order_id)
    assert order["status"] == "filled"
    assert (order["filled_contracts"], order["entry_price"]) == ("10", "65145.25"), "totals"
    position = order["position"]
    assert (position["status"], position["filled_contracts"], position["entry_price"]) == (
        "open",
        "10",
        "65145.25",
    )
    progress = order["entry_progress"]
    assert (progress["filled_contracts"], progress["entry_price"]) == ("10", "65145.25")
    second = progress["zones"][1]
    assert (second["state"], second["filled_contracts"], second["entry_price"]) == (
        "filled",
        "5",
        "64900",
    )
    assert (second["exchange_order_id"], second["client_order_id"]) == ("ex-2", "zg-2")
    assert progress["zones"][0]["entry_price"] == "65390.5", "zone 1 keeps its own fill"

    assert await send(app, "closed", closed(order_id, "take_profit", 68050, 10)) == (
        200,
        {"status": "ok"},
    )
    order = await detail(app, order_id)
    assert (order["status"], order["filled_contracts"]) == ("closed", "10")
    assert (order["position"]["status"], order["position"]["filled_contracts"]) == ("closed", "10")
    assert order["position"]["entry_price"] == "65145.25"
    assert states(order) == ["filled", "filled"]
    events = [(t["event"], t["applied"]) for t in order["transitions"]]
    assert events == [
        ("queued", True),
        ("placed", True),
        ("filled", True),
        ("placed", False),
        ("filled", False),
        ("closed", True),
    ]


async def test_a_zone_filled_after_the_close_never_reopens_the_position(
    start_app: AppStarter, database_url: str
) -> None:
    app = await start_app(database_url, consume=False, callback_secret=SECRET)
    order_id = await zoned_order(app)
    await send(app, "placed", placed(order_id, 1, "ex-1", 65400))
    await send(app, "filled", filled(order_id, 1, "ex-1", (5, 65400), (5, 65400)))
    await send(app, "closed", closed(order_id, "stop_loss", 64000, 5))
    late = filled(order_id, 2, "ex-2", (5, 64900), (10, 65150))
    assert await send(app, "filled", late) == (200, {"status": "ok"})
    assert await send(app, "placed", placed(order_id, 2, "ex-2", 64900)) == (200, {"status": "ok"})
    order = await detail(app, order_id)
    assert order["status"] == "closed"
    assert (order["filled_contracts"], order["entry_price"]) == ("5", "65400")
    position = order["position"]
    assert (position["status"], position["filled_contracts"], position["entry_price"]) == (
        "closed",
        "5",
        "65400",
    )
    assert position["exit_price"] == "64000"
    assert [t["applied"] for t in order["transitions"][-2:]] == [False, False]


async def test_the_first_entry_may_be_any_zone_and_a_later_fill_never_undoes_close_failed(
    start_app: AppStarter, database_url: str
) -> None:
    app = await start_app(database_url, consume=False, callback_secret=SECRET)
    order_id = await zoned_order(app)
    await send(app, "placed", placed(order_id, 2, "ex-2", 64900))
    order = await detail(app, order_id)
    assert (order["status"], states(order)) == ("placed", ["waiting", "placed"])
    await send(app, "filled", filled(order_id, 2, "ex-2", (5, 64900), (5, 64900)))
    failed_close = {"position_id": order_id, "reason": "stop_loss", "error": "refused"}
    await send(app, "close_failed", failed_close)
    await send(app, "filled", filled(order_id, 1, "ex-1", (5, 65400), (10, 65150)))
    order = await detail(app, order_id)
    assert order["status"] == "close_failed"
    assert order["position"]["status"] == "close_failed"
    assert (order["filled_contracts"], order["position"]["filled_contracts"]) == ("10", "10")
    assert order["position"]["entry_price"] == "65150"
    assert states(order) == ["filled", "filled"]


async def test_a_timeout_drops_the_zones_never_filled_and_a_racing_fill_is_shown(
    start_app: AppStarter, database_url: str
) -> None:
    app = await start_app(database_url, consume=False, callback_secret=SECRET)
    order_id = await zoned_order(app)
    await send(app, "placed", placed(order_id, 1, "ex-1", 65400))
    await send(app, "timeout", {"order_id": order_id, "reason": "zone not filled in time"})
    order = await detail(app, order_id)
    assert (order["status"], states(order)) == ("timeout", ["dropped", "dropped"])
    assert order["position"] is None
    # The entry filled as it was being cancelled: the worker guards it, the app shows it.
    await send(app, "filled", filled(order_id, 1, "ex-1", (5, 65400), (5, 65400)))
    order = await detail(app, order_id)
    assert (order["status"], states(order)) == ("timeout", ["filled", "dropped"])
    position = order["position"]
    assert (position["status"], position["filled_contracts"], position["entry_price"]) == (
        "open",
        "5",
        "65400",
    )
    seed_status, seed = await app.http.post("/api/signals", SIGNAL)
    assert seed_status == 201
    assert (await detail(app, seed["id"]))["entry_progress"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"entry_index": 0}, "entry_index"),
        ({"entry_index": 11}, "entry_index"),
        ({"entry_index": "1"}, "entry_index"),
        ({"entry_index": 1.5}, "entry_index"),
        ({"entry_index": True}, "entry_index"),
        ({"zone_entry_price": "abc"}, "zone_entry_price"),
        ({"zone_filled_contracts": [5]}, "zone_filled_contracts"),
    ],
)
async def test_a_nonsense_entry_index_or_zone_fill_is_a_422_naming_it(
    start_app: AppStarter, tmp_path: Any, change: dict[str, Any], field: str
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False, callback_secret=SECRET)
    order_id = await zoned_order(app)
    body = {**filled(order_id, 1, "ex-1", (5, 65400), (5, 65400)), **change}
    status, answer = await send(app, "filled", body)
    assert status == 422, answer
    assert [f["field"] for f in answer["fields"]] == [field]
    assert (await detail(app, order_id))["status"] == "queued"
