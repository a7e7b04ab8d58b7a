"""Several entry zones (pyramiding) through the app: a signal's ``entry_zones`` are read by
the domain's parser (a 422 names the JSON path), kept with the order, sent to the worker
instead of the seed's zone, and part of an Idempotency-Key's signal. On SQLite and
PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from app_harness import SIGNAL, AppStarter, FakeWorker, eventually, sqlite_url
from sqlalchemy import select

from zoneguard.app.db.models import OrderLifecycle, QueuedMessage
from zoneguard.app.messages import PlaceOrderMessage, decode_message

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
