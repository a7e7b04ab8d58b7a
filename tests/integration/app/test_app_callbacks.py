"""POST /api/orders/callback: signature, validation, dedupe by event_id, out-of-order
delivery, and what each status does to OrderLifecycle and Position. Bodies and signatures
are made with the worker's own functions, so the two sides cannot drift apart."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
import pytest
from app_harness import SIGNAL, AppStarter, RunningApp, sqlite_url

from zoneguard.worker.journal import encode_json
from zoneguard.worker.outbox import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    build_callback_body,
    sign_callback,
)

SECRET = "s3cret-callback-key"


async def send(
    app: RunningApp,
    status: str,
    fields: dict[str, Any],
    *,
    event_id: str | None = None,
    secret: str | None = SECRET,
    timestamp: int | None = None,
) -> tuple[int, Any]:
    body = build_callback_body(
        status, fields, event_id=event_id or uuid.uuid4().hex, at_ms=1_778_000_000_000
    )
    raw = encode_json(body)
    headers: dict[str, str] = {}
    if secret is not None:
        stamp = str(timestamp if timestamp is not None else _now_ms())
        headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign_callback(secret, stamp, raw)}
    return await app.http.post("/api/orders/callback", raw=raw, headers=headers)


def _now_ms() -> int:
    import time

    return time.time_ns() // 1_000_000


def placed(order_id: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "exchange_order_id": "987654321",
        "entry_price": 65250.0,
        "quantity": 0.01,
        "symbol": "BTCUSDT",
        "side": "long",
        "client_order_id": "zgabc",
    }


def filled(order_id: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "exchange_order_id": "987654321",
        "entry_price": 65249.5,
        "quantity": 0.01,
        "filled_contracts": 10,
    }


def closed(order_id: str) -> dict[str, Any]:
    return {
        "position_id": order_id,
        "order_id": order_id,
        "close_order_id": "987654322",
        "reason": "take_profit",
        "close_price": 68050.0,
        "entry_price": 65249.5,
        "realized_pnl": 28.005,
    }


async def new_order(app: RunningApp) -> str:
    status, body = await app.http.post("/api/signals", SIGNAL)
    assert status == 201
    order_id: str = body["id"]
    return order_id


async def detail(app: RunningApp, order_id: str) -> dict[str, Any]:
    status, body = await app.http.get(f"/api/orders/{order_id}")
    assert status == 200, body
    result: dict[str, Any] = body
    return result


async def test_the_seed_flow_placed_filled_closed_updates_lifecycle_and_position(
    start_app: AppStarter, database_url: str
) -> None:
    app = await start_app(database_url, consume=False, callback_secret=SECRET)
    order_id = await new_order(app)
    assert await send(app, "placed", placed(order_id)) == (200, {"status": "ok"})
    order = await detail(app, order_id)
    assert order["status"] == "placed"
    assert order["exchange_order_id"] == "987654321"
    assert order["entry_price"] == "65250"
    assert order["position"] is None
    assert await send(app, "filled", filled(order_id)) == (200, {"status": "ok"})
    order = await detail(app, order_id)
    assert (order["status"], order["entry_price"]) == ("filled", "65249.5")
    assert order["position"]["status"] == "open"
    assert order["position"]["entry_price"] == "65249.5"
    assert order["position"]["filled_contracts"] == "10"
    assert await send(app, "closed", closed(order_id)) == (200, {"status": "ok"})
    order = await detail(app, order_id)
    assert order["status"] == "closed"
    assert (order["close_order_id"], order["close_price"]) == ("987654322", "68050")
    assert order["reason"] == "take_profit"
    position = order["position"]
    assert position["status"] == "closed"
    assert (position["entry_price"], position["exit_price"]) == ("65249.5", "68050")
    assert position["realized_pnl"] == "28.005"
    assert position["close_reason"] == "take_profit"
    assert position["closed_at"] is not None
    events = [
        (t["event"], t["from_status"], t["to_status"], t["applied"]) for t in order["transitions"]
    ]
    assert events == [
        ("queued", None, "queued", True),
        ("placed", "queued", "placed", True),
        ("filled", "placed", "filled", True),
        ("closed", "filled", "closed", True),
    ]
    assert all(t["at"] and t["at_ms"] for t in order["transitions"])
    assert order["transitions"][1]["event_time"] == "2026-05-05T16:53:20.000Z"
    _, positions = await app.http.get("/api/positions?status=closed")
    assert [p["id"] for p in positions["positions"]] == [order_id]


async def test_signatures_missing_wrong_or_stale_are_refused(
    start_app: AppStarter, tmp_path: Any
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False, callback_secret=SECRET)
    order_id = await new_order(app)
    status, body = await send(app, "placed", placed(order_id), secret=None)
    assert status == 401
    assert "missing" in body["error"]
    status, body = await send(app, "placed", placed(order_id), secret="another-secret")
    assert status == 401
    assert "does not match" in body["error"]
    stale = _now_ms() - 3_600_000
    status, body = await send(app, "placed", placed(order_id), timestamp=stale)
    assert status == 401
    raw = encode_json(build_callback_body("placed", placed(order_id), event_id="e1", at_ms=1))
    stamp = str(_now_ms())
    tampered = raw.replace(b"65250.0", b"65251.0")
    headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign_callback(SECRET, stamp, raw)}
    status, _ = await app.http.post("/api/orders/callback", raw=tampered, headers=headers)
    assert status == 401
    assert (await detail(app, order_id))["status"] == "queued"  # nothing got through
    assert await send(app, "placed", placed(order_id)) == (200, {"status": "ok"})


async def test_without_a_secret_unsigned_callbacks_are_accepted(
    start_app: AppStarter, tmp_path: Any
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False)
    order_id = await new_order(app)
    # The seed's own manual test, byte for byte.
    raw = b'{"order_id": "' + order_id.encode() + b'", "status": "placed"}'
    assert await app.http.post("/api/orders/callback", raw=raw) == (200, {"status": "ok"})
    assert await app.http.post("/api/orders/callback", raw=raw) == (
        200,
        {"status": "ok", "duplicate": True},
    )
    assert (await detail(app, order_id))["status"] == "placed"


async def test_a_duplicate_event_id_changes_nothing(
    start_app: AppStarter, database_url: str
) -> None:
    app = await start_app(database_url, consume=False, callback_secret=SECRET)
    order_id = await new_order(app)
    assert await send(app, "placed", placed(order_id), event_id="evt-1") == (200, {"status": "ok"})
    before = await detail(app, order_id)
    changed = {**placed(order_id), "entry_price": 1.0}
    status, body = await send(app, "placed", changed, event_id="evt-1")
    assert (status, body) == (200, {"status": "ok", "duplicate": True})
    status, body = await send(app, "closed", closed(order_id), event_id="evt-1")
    assert (status, body) == (200, {"status": "ok", "duplicate": True})
    assert await detail(app, order_id) == before


async def test_an_unknown_status_is_a_422_naming_status(
    start_app: AppStarter, tmp_path: Any
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False)
    order_id = await new_order(app)
    raw = encode_json({"order_id": order_id, "status": "exploded", "event_id": "e-9"})
    status, body = await app.http.post("/api/orders/callback", raw=raw)
    assert status == 422
    assert body["fields"][0]["field"] == "status"
    assert "exploded" in body["error"]
    for bad_body, field in [
        ({"status": "placed"}, "order_id"),
        ({"order_id": order_id}, "status"),
        ({"order_id": order_id, "status": "placed", "entry_price": "abc"}, "entry_price"),
        ({"order_id": order_id, "status": "closed", "close_price": [1]}, "close_price"),
        ({"order_id": order_id, "status": "failed", "error_code": "x"}, "error_code"),
    ]:
        status, body = await app.http.post("/api/orders/callback", raw=encode_json(bad_body))
        assert status == 422, bad_body
        assert field in [f["field"] for f in body["fields"]]
    status, body = await app.http.post("/api/orders/callback", raw=b"not json")
    assert (status, body["fields"][0]["field"]) == (400, "body")
    assert (await detail(app, order_id))["status"] == "queued"


async def test_closed_before_placed_never_moves_the_order_back(
    start_app: AppStarter, database_url: str
) -> None:
    app = await start_app(database_url, consume=False, callback_secret=SECRET)
    order_id = await new_order(app)
    assert (await send(app, "closed", closed(order_id)))[0] == 200
    assert (await send(app, "filled", filled(order_id)))[0] == 200
    assert (await send(app, "placed", placed(order_id)))[0] == 200
    assert (
        await send(
            app,
            "close_failed",
            {
                "position_id": order_id,
                "reason": "take_profit",
                "error": "late news",
            },
        )
    )[0] == 200
    order = await detail(app, order_id)
    assert order["status"] == "closed"
    assert order["close_price"] == "68050"
    assert order["exchange_order_id"] == "987654321"  # a late fact fills a gap
    assert order["entry_price"] == "65249.5"  # but does not overwrite the closed one's
    assert order["position"]["status"] == "closed"
    assert order["position"]["exit_price"] == "68050"
    applied = [(t["event"], t["applied"], t["to_status"]) for t in order["transitions"][1:]]
    assert applied == [
        ("closed", True, "closed"),
        ("filled", False, "closed"),
        ("placed", False, "closed"),
        ("close_failed", False, "closed"),
    ]


async def test_failure_statuses(start_app: AppStarter, database_url: str) -> None:
    app = await start_app(database_url, consume=False, callback_secret=SECRET)
    timed_out, refused, cancelled = [await new_order(app) for _ in range(3)]
    await send(
        app, "timeout", {"order_id": timed_out, "reason": "Entry zone not reached within timeout"}
    )
    await send(
        app, "failed", {"order_id": refused, "error": "post-only would cross", "error_code": 40035}
    )
    await send(app, "cancelled", {"order_id": cancelled, "reason": "cancelled by request"})
    order = await detail(app, timed_out)
    assert (order["status"], order["reason"]) == (
        "timeout",
        "Entry zone not reached within timeout",
    )
    order = await detail(app, refused)
    assert (order["status"], order["error"], order["error_code"]) == (
        "failed",
        "post-only would cross",
        40035,
    )
    assert (await detail(app, cancelled))["status"] == "cancelled"
    _, listing = await app.http.get("/api/orders?status=timeout")
    assert [o["id"] for o in listing["orders"]] == [timed_out]


async def test_close_failed_then_closed(start_app: AppStarter, tmp_path: Any) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False, callback_secret=SECRET)
    order_id = await new_order(app)
    await send(app, "placed", placed(order_id))
    await send(app, "filled", filled(order_id))
    failure = {
        "position_id": order_id,
        "reason": "stop_loss",
        "error": "exchange busy",
        "error_code": 30030,
    }
    assert await send(app, "close_failed", failure) == (200, {"status": "ok"})
    order = await detail(app, order_id)
    assert order["status"] == "close_failed"
    assert order["position"]["status"] == "close_failed"
    assert order["position"]["error"] == "exchange busy"
    assert order["error"] == "exchange busy"
    await send(app, "closed", {**closed(order_id), "reason": "stop_loss", "close_price": 63990.0})
    order = await detail(app, order_id)
    assert order["status"] == "closed"
    assert order["position"]["status"] == "closed"
    assert order["position"]["close_reason"] == "stop_loss"
    # Over: no current error, and the failed attempt stays in the history.
    assert (order["error"], order["error_code"], order["position"]["error"]) == (None, None, None)
    (attempt,) = [t for t in order["transitions"] if t["event"] == "close_failed"]
    assert attempt["error"] == "exchange busy"
    assert attempt["data"]["error_code"] == 30030


async def test_a_callback_for_an_order_the_app_never_made_creates_it(
    start_app: AppStarter, tmp_path: Any
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False, callback_secret=SECRET)
    assert await send(app, "placed", placed("test-order-123")) == (200, {"status": "ok"})
    order = await detail(app, "test-order-123")
    assert (order["origin"], order["status"], order["symbol"], order["side"]) == (
        "external",
        "placed",
        "BTCUSDT",
        "long",
    )
    status, body = await app.http.get("/api/orders/nope")
    assert status == 404
    assert body["fields"][0]["field"] == "order_id"


@pytest.mark.parametrize(
    "status", ["placed", "filled", "closed", "close_failed", "failed", "timeout", "cancelled"]
)
async def test_every_worker_status_is_stored(
    start_app: AppStarter, tmp_path: Any, status: str
) -> None:
    from zoneguard.worker.outbox import REQUIRED_FIELDS

    app = await start_app(sqlite_url(tmp_path), consume=False)
    order_id = await new_order(app)
    fields: dict[str, Any] = {name: "x" for name in REQUIRED_FIELDS[status]}
    fields.update(
        {k: 1 for k in REQUIRED_FIELDS[status] if k.endswith(("price", "quantity", "contracts"))}
    )
    fields.update(
        {k: order_id for k in ("order_id", "position_id") if k in REQUIRED_FIELDS[status]}
    )
    result = await send(app, status, fields, secret=None)
    assert result == (200, {"status": "ok"})
    order = await detail(app, order_id)
    assert order["transitions"][-1]["event"] == status
    assert order["status"] == status


async def post_latin1(app: RunningApp, raw: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    """POST over a bare socket, header values encoded as Latin-1 (byte 0xB2 is '²' to the
    server, which clients that encode UTF-8 cannot produce)."""
    host, port = app.server.host, app.server.port
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        f"POST /api/orders/callback HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n"
        "Connection: close\r\n"
    ).encode() + b"".join(
        name.encode() + b": " + value.encode("latin-1") + b"\r\n" for name, value in headers.items()
    )
    writer.write(head + b"\r\n" + raw)
    answer = await reader.read()
    writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), orjson.loads(rest.partition(b"\r\n\r\n")[2])


@pytest.mark.parametrize(
    ("stamp", "signature", "named"),
    [
        (None, "sha256=\u00e9\u00e9", "X-Zoneguard-Signature"),
        ("\u00b2", None, "X-Zoneguard-Timestamp"),
        ("9" * 5000, None, "X-Zoneguard-Timestamp"),
    ],
)
async def test_odd_signature_headers_are_a_401_naming_the_header(
    start_app: AppStarter, tmp_path: Any, stamp: str | None, signature: str | None, named: str
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False, callback_secret=SECRET)
    order_id = await new_order(app)
    raw = encode_json(build_callback_body("placed", placed(order_id), event_id="e-1", at_ms=1))
    now = str(_now_ms())
    headers = {
        TIMESTAMP_HEADER: stamp if stamp is not None else now,
        SIGNATURE_HEADER: signature if signature is not None else sign_callback(SECRET, now, raw),
    }
    status, body = await post_latin1(app, raw, headers)
    assert status == 401, body
    assert named in body["error"]
    assert (await detail(app, order_id))["status"] == "queued"


async def test_newlines_in_a_reason_or_error_stay_on_one_log_line(
    start_app: AppStarter, tmp_path: Any
) -> None:
    from zoneguard.app.logs import setup_orders_logging, shutdown_orders_logging

    log_dir = setup_orders_logging(tmp_path / "logs")
    try:
        app = await start_app(sqlite_url(tmp_path), consume=False)
        order_id = await new_order(app)
        forged = "refused\n2026-01-01T00:00:00.000Z INFO orders callback closed\r\x00"
        body = {"order_id": order_id, "status": "failed", "error": forged}
        assert (await app.http.post("/api/orders/callback", body))[0] == 200
        (line,) = (log_dir / "orders-error.log").read_text(encoding="utf-8").splitlines()
        assert "refused\\n2026-01-01T00:00:00.000Z INFO orders callback closed\\r" in line
    finally:
        shutdown_orders_logging()


async def test_a_missing_callback_secret_is_a_warning_at_start(
    start_app: AppStarter, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="zoneguard.orders"):
        await start_app(sqlite_url(tmp_path), consume=False, callback_secret=SECRET)
        assert not [r for r in caplog.records if "ZONEGUARD_CALLBACK_SECRET" in r.getMessage()]
        await start_app(sqlite_url(tmp_path), consume=False)
    (warning,) = [r for r in caplog.records if "ZONEGUARD_CALLBACK_SECRET" in r.getMessage()]
    assert warning.levelname == "WARNING"
    assert "unsigned callbacks are accepted" in warning.getMessage()


async def test_bodies_the_database_would_refuse_are_stored_or_named_never_a_500(
    start_app: AppStarter, database_url: str
) -> None:
    app = await start_app(database_url, consume=False)
    order_id = await new_order(app)

    async def post(fields: dict[str, Any]) -> tuple[int, Any]:
        body = {"order_id": order_id, "event_id": uuid.uuid4().hex, **fields}
        answer: tuple[int, Any] = await app.http.post("/api/orders/callback", raw=encode_json(body))
        return answer

    refused: list[tuple[dict[str, Any], str]] = [
        ({"status": "placed", "timestamp": "2026-05-09T07:35:25.123Z" + "0" * 20}, "timestamp"),
        ({"status": "failed", "error_code": 2**40}, "error_code"),
        ({"status": "failed", "error_code": 2**64 - 1}, "error_code"),
        ({"status": "placed", "exchange_order_id": "98\x0076"}, "exchange_order_id"),
        ({"status": "placed", "order_id": "or\x00der"}, "order_id"),
        ({"status": "placed", "event_id": "e\x00v"}, "event_id"),
        ({"status": "placed", "entry_price": "1e-9999999"}, "entry_price"),
        ({"status": "placed", "entry_price": "1e25"}, "entry_price"),
        ({"status": "placed", "entry_price": "1" * 101}, "entry_price"),
    ]
    for fields, field in refused:
        status, answer = await post(fields)
        assert status == 422, (fields, status, answer)
        assert [f["field"] for f in answer["fields"]] == [field], answer
    assert (await detail(app, order_id))["status"] == "queued"

    status, _ = await post({"status": "placed", "entry_price": "65000.1234567890123456789"})
    assert status == 200
    assert (await detail(app, order_id))["entry_price"] == "65000.123456789012345679"
    await post({"status": "filled", "quantity": "0.01"})
    long_reason = "stop_loss hit after a gap; " * 10
    failure = {"status": "close_failed", "reason": long_reason, "error": "busy\x00" + "x" * 9000}
    assert (await post(failure))[0] == 200
    order = await detail(app, order_id)
    assert order["position"]["close_reason"] == long_reason  # whole: more than 32 characters
    error = order["position"]["error"]
    assert error.startswith("busyxxx") and error.endswith(" [cut]") and len(error) == 4000
    assert (await post({"status": "closed", "reason": long_reason}))[0] == 200
    assert (await detail(app, order_id))["position"]["close_reason"] == long_reason


async def test_a_callback_for_an_unknown_order_keeps_a_clean_symbol(
    start_app: AppStarter, database_url: str
) -> None:
    app = await start_app(database_url, consume=False)
    body = {"order_id": "ext-1", "status": "placed", "symbol": "BTC\x00USDT\n", "side": "long"}
    assert (await app.http.post("/api/orders/callback", body))[0] == 200
    assert (await detail(app, "ext-1"))["symbol"] == "BTCUSDT"


async def test_first_callbacks_for_an_unknown_order_at_once_all_land(
    start_app: AppStarter, database_url: str
) -> None:
    app = await start_app(database_url, consume=False)
    order_ids = [f"ext-race-{n}" for n in range(4)]
    bodies = [
        {"order_id": order_id, "status": status, "event_id": f"{order_id}-{status}"}
        for order_id in order_ids
        for status in ("placed", "filled", "timeout", "cancelled")
    ]
    answers = await asyncio.gather(
        *(app.http.post("/api/orders/callback", raw=encode_json(body)) for body in bodies)
    )
    assert [status for status, _ in answers] == [200] * len(bodies), answers
    for order_id in order_ids:
        order = await detail(app, order_id)
        assert order["origin"] == "external"
        events = sorted(t["event"] for t in order["transitions"])
        assert events == ["cancelled", "discovered", "filled", "placed", "timeout"]
