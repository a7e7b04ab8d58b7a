"""The reading side of the API, the live feed, the klines proxy, monitor requests,
operator actions, health, OpenAPI and the page at /."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson
from app_harness import SIGNAL, AppStarter, FakeWorker, eventually, sqlite_url

from zoneguard.app.api.app import INDEX_FILE
from zoneguard.app.server import GRACEFUL_SHUTDOWN_S


async def test_orders_are_listed_newest_first_and_filtered(
    start_app: AppStarter, database_url: str
) -> None:
    app = await start_app(database_url, consume=False)
    ids = []
    for symbol in ("BTCUSDT", "ETHUSDT", "BTCUSDT"):
        _, body = await app.http.post("/api/signals", {**SIGNAL, "symbol": symbol})
        ids.append(body["id"])
        await asyncio.sleep(0.002)
    await app.http.post("/api/orders/callback", {"order_id": ids[0], "status": "placed"})
    _, body = await app.http.get("/api/orders")
    assert [o["id"] for o in body["orders"]] == ids[::-1]
    _, body = await app.http.get("/api/orders?status=queued")
    assert [o["id"] for o in body["orders"]] == [ids[2], ids[1]]
    _, body = await app.http.get("/api/orders?symbol=btcusdt&limit=1")
    assert [o["id"] for o in body["orders"]] == [ids[2]]
    status, body = await app.http.get("/api/orders?status=bogus")
    assert (status, body["fields"][0]["field"]) == (422, "status")
    status, body = await app.http.get("/api/orders?limit=0")
    assert (status, body["fields"][0]["field"]) == (422, "limit")
    status, body = await app.http.get("/api/positions?status=bogus")
    assert (status, body["fields"][0]["field"]) == (422, "status")


async def read_events(response: aiohttp.ClientResponse, wanted: int) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    name = ""
    while len(events) < wanted:
        line = (await response.content.readline()).decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, orjson.loads(line[6:])))
    return events


async def test_the_event_stream_sends_each_change_with_the_new_json(
    start_app: AppStarter, tmp_path: Any
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False)
    async with app.http.session.get(app.http.base_url + "/api/events") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        (hello,) = await asyncio.wait_for(read_events(response, 1), 5)
        assert hello[0] == "hello"
        _, body = await app.http.post("/api/signals", SIGNAL)
        order_id = body["id"]
        ((kind, order),) = await asyncio.wait_for(read_events(response, 1), 5)
        assert (kind, order["id"], order["status"]) == ("order", order_id, "queued")
        callback = {
            "order_id": order_id,
            "status": "filled",
            "entry_price": 65300.5,
            "exchange_order_id": "1",
        }
        await app.http.post("/api/orders/callback", callback)
        changes = await asyncio.wait_for(read_events(response, 2), 5)
        by_kind = dict(changes)
        assert by_kind["order"]["status"] == "filled"
        assert by_kind["position"]["entry_price"] == "65300.5"
        assert by_kind["position"]["status"] == "open"


async def test_open_event_streams_do_not_hold_up_a_shutdown(
    start_app: AppStarter, tmp_path: Any
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False)
    async with app.http.session.get(app.http.base_url + "/api/events") as response:
        await asyncio.wait_for(read_events(response, 1), 5)
        started = time.monotonic()
        await app.server.stop()
        # A held stream would make uvicorn wait out its whole graceful timeout: anything
        # shorter shows the stream was ended at once (2 s was tight on a busy machine).
        assert time.monotonic() - started < GRACEFUL_SHUTDOWN_S
        rest = await asyncio.wait_for(response.content.read(), 2)  # the stream ended
        assert rest.strip() == b""
        assert response.content.at_eof()


async def test_klines_come_from_the_worker(
    start_app: AppStarter, tmp_path: Any, fake_worker: FakeWorker
) -> None:
    bars = {
        "symbol": "BTCUSDT",
        "tf": "1m",
        "bars": [{"t": 1, "o": "1", "h": "2", "l": "0.5", "c": "1.5", "v": "3"}],
    }
    fake_worker.replies = [(200, bars), (404, {"ok": False, "error": "symbol: unknown"})]
    app = await start_app(sqlite_url(tmp_path), consume=False, ws_worker_base_url=fake_worker.url)
    assert await app.http.get("/api/market/btcusdt/klines?tf=1m&limit=5") == (200, bars)
    assert fake_worker.requests[0][1] == "/api/market/BTCUSDT/klines?tf=1m&limit=5"
    status, body = await app.http.get("/api/market/NOPEUSDT/klines")
    assert status == 404
    assert "symbol: unknown" in body["error"]
    status, body = await app.http.get("/api/market/BTCUSDT/klines?tf=7m")
    assert (status, body["fields"][0]["field"]) == (422, "tf")
    status, body = await app.http.get("/api/market/BTCUSDT/klines?limit=5000")
    assert (status, body["fields"][0]["field"]) == (422, "limit")
    await fake_worker.stop()
    status, body = await app.http.get("/api/market/BTCUSDT/klines")
    assert status == 503
    assert body["error"].startswith("worker: unavailable"), body


async def test_an_unknown_symbol_is_the_callers_mistake_passed_on_once(
    start_app: AppStarter, tmp_path: Any, fake_worker: FakeWorker
) -> None:
    """The worker's 404 naming ``symbol`` is final: asked once, passed on with its field
    (not retried, not a 503)."""
    message = "ZZZZUSDT is not traded"
    refusal = {
        "ok": False,
        "error": f"symbol: {message}",
        "fields": [{"field": "symbol", "message": message}],
    }
    fake_worker.replies = [(404, refusal)] * 3
    app = await start_app(
        sqlite_url(tmp_path), consume=False, ws_worker_base_url=fake_worker.url, worker_attempts=3
    )
    status, body = await app.http.get("/api/market/ZZZZUSDT/klines")
    assert status == 404, body
    assert body["fields"] == [{"field": "symbol", "message": message}]
    assert body["error"] == f"symbol: {message}"
    assert len(fake_worker.requests) == 1
    # A refusal that names no field still names the route's own.
    fake_worker.replies = [(404, {"ok": False, "error": "no such thing"})]
    status, body = await app.http.get("/api/market/ZZZZUSDT/klines")
    assert (status, body["fields"][0]["field"]) == (404, "symbol")


async def test_a_monitor_request_reaches_the_worker(
    start_app: AppStarter, database_url: str, fake_worker: FakeWorker
) -> None:
    fake_worker.replies = [(200, {"ok": True, "status": "open"})]
    app = await start_app(database_url, ws_worker_base_url=fake_worker.url)
    status, body = await app.http.post(
        "/api/positions/monitor", {"symbol": "btcusdt", "side": "short", "stop_loss": "70000"}
    )
    assert status == 201, body
    order_id = body["id"]
    await eventually(lambda: fake_worker.bodies("/api/monitor-position"), what="monitor-position")
    (payload,) = fake_worker.bodies("/api/monitor-position")
    assert payload == {
        "id": order_id,
        "symbol": "BTCUSDT",
        "side": "short",
        "stop_loss": "70000",
        "take_profit": None,
        "callback_url": app.settings.callback_url,
        "metadata": {},
    }

    async def monitoring() -> dict[str, Any] | None:
        _, detail = await app.http.get(f"/api/orders/{order_id}")
        return detail if detail["status"] == "monitoring" else None

    detail = await eventually(monitoring, what="monitoring")
    assert detail["origin"] == "monitor"
    assert detail["position"]["status"] == "open"


async def test_bad_monitor_requests_name_the_field(start_app: AppStarter, tmp_path: Any) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False)
    for body, field in [
        ({"symbol": "BTCUSDT", "side": "long"}, "body"),
        ({"symbol": "BTC-USDT", "side": "long", "stop_loss": 1}, "symbol"),
        ({"symbol": "BTCUSDT", "side": "flat", "stop_loss": 1}, "side"),
        ({"symbol": "BTCUSDT", "side": "long", "stop_loss": -1}, "stop_loss"),
        ({"symbol": "BTCUSDT", "side": "long", "stop_loss": 1, "quantity": 2}, "quantity"),
        (
            {"symbol": "BTCUSDT", "side": "long", "stop_loss": 1, "metadata": {"a": "x" * 17000}},
            "metadata",
        ),
    ]:
        status, answer = await app.http.post("/api/positions/monitor", body)
        assert status == 422, body
        assert field in [f["field"] for f in answer["fields"]], answer


async def test_cancel_and_close_are_passed_to_the_worker(
    start_app: AppStarter, tmp_path: Any, fake_worker: FakeWorker
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False, ws_worker_base_url=fake_worker.url)
    _, body = await app.http.post("/api/signals", SIGNAL)
    order_id = body["id"]
    fake_worker.replies = [
        (200, {"ok": True, "status": "cancelled"}),
        (409, {"ok": False, "error": f"order {order_id} holds no position"}),
    ]
    status, answer = await app.http.post(f"/api/orders/{order_id}/cancel")
    assert (status, answer["status"]) == (202, "cancelled")
    status, answer = await app.http.post(f"/api/orders/{order_id}/close")
    assert status == 409
    assert "holds no position" in answer["error"]
    status, answer = await app.http.post("/api/orders/order-nope/cancel")
    assert (status, answer["fields"][0]["field"]) == (404, "order_id")
    assert [p for _m, p, _h, _b in fake_worker.requests] == [
        f"/api/orders/{order_id}/cancel",
        f"/api/orders/{order_id}/close",
    ]


async def test_health_openapi_and_the_page(start_app: AppStarter, tmp_path: Any) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False)
    status, health = await app.http.get("/health")
    assert status == 200
    assert health["status"] == "ok"
    assert (health["database"], health["transport"], health["consumer"]) == ("sqlite", "db", False)
    status, spec = await app.http.get("/openapi.json")
    assert status == 200
    paths = spec["paths"]
    for path, method in [
        ("/api/signals", "post"),
        ("/api/positions/monitor", "post"),
        ("/api/orders/callback", "post"),
        ("/api/orders", "get"),
        ("/api/orders/{order_id}", "get"),
        ("/api/positions", "get"),
        ("/api/events", "get"),
        ("/api/market/{symbol}/klines", "get"),
        ("/api/messages/failed", "get"),
        ("/api/messages/failed/{failed_id}/retry", "post"),
        ("/health", "get"),
    ]:
        assert method in paths[path], path
    signal_schema = paths["/api/signals"]["post"]["requestBody"]["content"]["application/json"]
    assert "entry_zone_min" in signal_schema["schema"]["properties"]
    status, page = await app.http.get("/")
    assert status == 200
    if INDEX_FILE.is_file():
        assert page == INDEX_FILE.read_text(encoding="utf-8")
    else:
        assert "Zoneguard" in page
    status, body = await app.http.get("/api/nothing-here")
    assert status == 404
    assert body["ok"] is False


async def test_ids_that_cannot_exist_are_refused_naming_the_field(
    start_app: AppStarter, database_url: str
) -> None:
    app = await start_app(database_url, consume=False)
    for method, path, field in [
        ("POST", "/api/messages/failed/99999999999999999999/retry", "failed_id"),
        ("POST", "/api/messages/failed/-1/retry", "failed_id"),
        ("GET", "/api/orders/a%00b", "order_id"),
        ("POST", "/api/orders/a%00b/cancel", "order_id"),
        ("POST", "/api/orders/a%00b/close", "order_id"),
        ("GET", "/api/orders/" + "x" * 65, "order_id"),
        ("GET", "/api/orders?symbol=a%00b", "symbol"),
    ]:
        status, body = await app.http.request(method, path)
        assert status in (404, 422), (path, status, body)
        assert body["fields"][0]["field"] == field, (path, body)


async def test_monitor_prices_have_the_bounds_of_a_signal(
    start_app: AppStarter, database_url: str
) -> None:
    app = await start_app(database_url, consume=False)
    base = {"symbol": "BTCUSDT", "side": "long"}
    for field, value in [
        ("stop_loss", "1e9999999"),
        ("stop_loss", 1e300),
        ("stop_loss", "1000000000000000"),
        ("take_profit", "1e-9999999"),
        ("take_profit", "64000.1234567890123456789"),
    ]:
        status, answer = await app.http.post("/api/positions/monitor", {**base, field: value})
        assert status == 422, (field, value, status)
        assert [f["field"] for f in answer["fields"]] == [field], answer
        assert len(orjson.dumps(answer)) < 1000
    status, answer = await app.http.post(
        "/api/positions/monitor",
        {**base, "stop_loss": "999999999999999.123456789012345678", "take_profit": "0.5"},
    )
    assert status == 201, answer
    assert answer["order"]["stop_loss"] == "999999999999999.123456789012345678"  # not rounded


def nested(levels: int) -> dict[str, Any]:
    """An object ``levels`` deep: {"a": {"a": ... {} }}."""
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def with_nested_metadata(body: dict[str, Any], levels: int) -> bytes:
    """``body`` as JSON with ``metadata`` ``levels`` deep, written by hand: JSON encoders
    stop long before a hostile client does."""
    metadata = '{"a":' * (levels - 1) + "{}" + "}" * (levels - 1)
    return orjson.dumps(body)[:-1] + b',"metadata":' + metadata.encode() + b"}"


async def test_monitor_metadata_has_the_signals_bounds(
    start_app: AppStarter, tmp_path: Any, fake_worker: FakeWorker
) -> None:
    """Metadata nested past 32 levels (255+ once escaped the validator as a 500; 254 was
    taken and then failed on the bus for good) or over 16 KB is a 422 naming ``metadata``,
    as on ``/api/signals``; at the bounds it is taken and reaches the worker."""
    app = await start_app(sqlite_url(tmp_path), ws_worker_base_url=fake_worker.url)
    base = {"symbol": "BTCUSDT", "side": "long", "stop_loss": "60000"}
    for path, extra in (("/api/positions/monitor", {}), ("/api/signals", SIGNAL_FIELDS)):
        bodies = [with_nested_metadata({**base, **extra}, n) for n in (33, 254, 255, 1000)]
        bodies.append(orjson.dumps({**base, **extra, "metadata": {"x": "y" * 17000}}))
        for raw in bodies:
            status, body = await app.http.post(path, raw=raw)
            assert status == 422, (path, body)
            assert [f["field"] for f in body["fields"]] == ["metadata"], body
    status, body = await app.http.post("/api/positions/monitor", {**base, "metadata": nested(32)})
    assert status == 201, body
    await eventually(lambda: fake_worker.bodies("/api/monitor-position"), what="monitor-position")
    (payload,) = fake_worker.bodies("/api/monitor-position")
    assert payload["metadata"] == nested(32)


SIGNAL_FIELDS = {"entry_zone_min": "60500", "entry_zone_max": "61000", "quantity": "0.01"}
