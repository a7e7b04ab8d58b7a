"""What comes in at the door: malformed payloads, idempotent re-posts, the bearer token."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import orjson
from e2e_harness import SEED_ORDER, Client, Stack
from fastapi.routing import APIRoute

_MISSING = object()


def with_(**changes: Any) -> bytes:
    """The seed's order with fields changed (``_MISSING`` removes one), as JSON bytes."""
    payload = {**SEED_ORDER, "id": "bad-1"}
    for name, value in changes.items():
        if value is _MISSING:
            payload.pop(name, None)
        else:
            payload[name] = value
    return orjson.dumps(payload)


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


BAD_PAYLOADS: list[tuple[str, bytes, str]] = [
    # (what, body, the field the answer must name)
    ("not JSON", b"{not json", "body"),
    ("empty body", b"", "body"),
    ("a JSON array", b"[1, 2]", "body"),
    ("a JSON string", b'"order"', "body"),
    ("no id", with_(id=_MISSING), "id"),
    ("id with a space", with_(id="bad id"), "id"),
    ("id too long", with_(id="x" * 65), "id"),
    ("id a number", with_(id=123), "id"),
    ("no symbol", with_(symbol=_MISSING), "symbol"),
    ("symbol with a dash", with_(symbol="BTC-USDT"), "symbol"),
    ("symbol not traded", with_(symbol="DOGEUSDT"), "symbol"),
    ("no side", with_(side=_MISSING), "side"),
    ("side buy", with_(side="buy"), "side"),
    ("side a number", with_(side=1), "side"),
    ("zone min above max", with_(entry_zone_min=66000, entry_zone_max=65000), "entry_zone_min"),
    ("zone min text", with_(entry_zone_min="abc"), "entry_zone_min"),
    ("zone min NaN", with_(entry_zone_min="NaN"), "entry_zone_min"),
    ("zone min boolean", with_(entry_zone_min=True), "entry_zone_min"),
    ("zone min negative", with_(entry_zone_min=-1), "entry_zone_min"),
    ("no zone max", with_(entry_zone_max=_MISSING), "entry_zone_max"),
    ("zone max infinite", with_(entry_zone_max="Infinity"), "entry_zone_max"),
    ("no quantity", with_(quantity=_MISSING), "quantity"),
    ("quantity zero", with_(quantity=0), "quantity"),
    ("quantity negative", with_(quantity=-0.01), "quantity"),
    ("quantity below one contract", with_(quantity=0.0001), "quantity"),
    ("quantity above the maximum", with_(quantity=1000), "quantity"),
    ("leverage zero", with_(leverage=0), "leverage"),
    ("leverage fractional", with_(leverage=2.5), "leverage"),
    ("leverage above the contract's", with_(leverage=150), "leverage"),
    ("leverage text", with_(leverage="ten"), "leverage"),
    ("stop inside the zone", with_(stop_loss=65200), "stop_loss"),
    ("stop above a long's zone", with_(stop_loss=66000), "stop_loss"),
    ("take-profit below a long's zone", with_(take_profit=64500), "take_profit"),
    ("short with a long's levels", with_(side="short"), "stop_loss"),
    ("stop a list", with_(stop_loss=[64000]), "stop_loss"),
    ("timeout zero", with_(timeout_seconds=0), "timeout_seconds"),
    ("timeout above a week", with_(timeout_seconds=10**7), "timeout_seconds"),
    ("timeout text", with_(timeout_seconds="soon"), "timeout_seconds"),
    ("callback not http", with_(callback_url="ftp://app/cb"), "callback_url"),
    ("callback not a URL", with_(callback_url="not a url"), "callback_url"),
    ("metadata a list", with_(metadata=[1, 2]), "metadata"),
    ("metadata too deep", with_(metadata=_nested(40)), "metadata"),
    ("misspelt field", with_(stop_los=64000), "stop_los"),
]


async def nothing_changed(stack: Stack, client: Client) -> None:
    _status, body = await client.get("/api/orders/status")
    assert body["counts"] == {"waiting": 0, "active": 0, "monitored": 0}, body
    status, _body = await client.get("/api/orders/bad-1")
    assert status == 404
    state = await client.sim_state()
    assert state["orders"] == []
    assert "/contract/private/submit-order" not in state["counters"]["requests"]
    _status, worker = await client.get("/status")
    assert worker["callbacks_pending"] == 0
    assert stack.receiver.bodies == []


async def test_malformed_payloads_are_4xx_naming_the_field_and_change_nothing(
    stack: Stack,
) -> None:
    client = await stack.start(sim={"prices": {"BTCUSDT": Decimal("65200")}})  # in the zone
    wrong: list[str] = []
    for what, body, field in BAD_PAYLOADS:
        status, answer = await client.post_raw("/api/place-order", body)
        named = [f["field"] for f in answer.get("fields", [])] if isinstance(answer, dict) else []
        if not 400 <= status < 500 or field not in named or field not in answer.get("error", ""):
            wrong.append(f"{what}: HTTP {status} {answer}")
    assert not wrong, "\n".join(wrong)
    await nothing_changed(stack, client)
    # The id of a refused payload is not taken: the valid order goes through.
    status, answer = await client.post_raw("/api/place-order", with_())
    assert status == 200, answer
    await stack.receiver.wait_for("bad-1", "placed")


async def test_every_bad_field_is_named_at_once(stack: Stack) -> None:
    client = await stack.start()
    body = with_(side="sideways", quantity=-1, timeout_seconds=0)
    status, answer = await client.post_raw("/api/place-order", body)
    assert status == 422, answer
    assert {f["field"] for f in answer["fields"]} >= {"side", "quantity", "timeout_seconds"}


async def test_same_id_same_body_is_idempotent_and_different_body_is_409(stack: Stack) -> None:
    client = await stack.start()
    status, first = await client.post("/api/place-order", SEED_ORDER)
    assert (status, first["duplicate"]) == (200, False), first
    status, again = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200
    assert again == {**first, "duplicate": True}
    # The same values written differently are the same body.
    as_text = {**SEED_ORDER, "entry_zone_min": "65000.0", "quantity": "0.010", "leverage": 10.0}
    status, textual = await client.post("/api/place-order", as_text)
    assert (status, textual) == (200, again)

    status, clash = await client.post("/api/place-order", {**SEED_ORDER, "take_profit": 69000})
    assert status == 409, clash
    assert "id" in [f["field"] for f in clash["fields"]]
    assert "id" in clash["error"]

    await client.price("BTCUSDT", 65300)
    placed = await stack.receiver.wait_for("test-order-123", "placed")
    status, later = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200
    assert (later["duplicate"], later["status"]) == (True, "placed")
    state = await client.sim_state()
    entries = [o for o in state["orders"] if o["side"] == 1]
    assert [str(o["order_id"]) for o in entries] == [placed["exchange_order_id"]]
    assert stack.receiver.statuses("test-order-123") == ["placed"]


async def test_concurrent_reposts_place_one_order(stack: Stack) -> None:
    client = await stack.start(sim={"prices": {"BTCUSDT": Decimal("65200")}})
    answers = await asyncio.gather(
        *(client.post("/api/place-order", SEED_ORDER) for _ in range(10))
    )
    assert all(status == 200 for status, _ in answers), answers
    assert sorted(body["duplicate"] for _, body in answers) == [False] + [True] * 9
    await stack.receiver.wait_for("test-order-123", "placed")
    state = await client.sim_state()
    assert len([o for o in state["orders"] if o["side"] == 1]) == 1


async def test_repost_after_the_end_changes_nothing(stack: Stack) -> None:
    client = await stack.start()
    order = {**SEED_ORDER, "id": "done-1", "timeout_seconds": 1}
    status, _body = await client.post("/api/place-order", order)
    assert status == 200
    await stack.receiver.wait_for("done-1", "timeout", timeout=5)
    await client.price("BTCUSDT", 65300)  # the zone is there now
    status, body = await client.post("/api/place-order", order)
    assert (status, body["duplicate"], body["status"]) == (200, True, "timeout"), body
    status, body = await client.post("/api/place-order", {**order, "quantity": 0.02})
    assert status == 409, body
    await stack.seen("BTCUSDT", 65300)
    assert (await client.sim_state())["orders"] == []
    assert stack.receiver.statuses("done-1") == ["timeout"]


async def test_signals_share_a_side_but_monitor_position_wants_it_whole(stack: Stack) -> None:
    """Several signals on one symbol and side coexist (each closes its own contracts); a
    position to adopt whole (monitor-position) is refused while one of them lives."""
    client = await stack.start()
    status, _body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200
    status, body = await client.post("/api/place-order", {**SEED_ORDER, "id": "second"})
    assert (status, body["status"]) == (200, "waiting_zone"), body
    await client.price("BTCUSDT", 65300)
    await client.prices("BTCUSDT", 65200, 65100)
    await stack.receiver.wait_for("second", "filled")
    await stack.receiver.wait_for(str(SEED_ORDER["id"]), "filled")
    status, body = await client.post(
        "/api/monitor-position",
        {"id": "adopt", "symbol": "BTCUSDT", "side": "long", "stop_loss": 60000},
    )
    assert status == 409, body
    assert body["fields"][0]["field"] == "side"
    assert "monitor-position adopts the whole position" in body["fields"][0]["message"]
    status, _body = await client.get("/api/orders/adopt")
    assert status == 404


TOKEN = "e2e-token-4f9c2a"


def _concrete(path: str) -> str:
    return path.replace("{order_id}", "test-order-123")


async def test_every_control_endpoint_but_health_needs_the_bearer_token(stack: Stack) -> None:
    client = await stack.start(api_token=TOKEN)
    assert stack.worker is not None and stack.worker.app is not None
    routes = [
        (method, route.path)
        for route in stack.worker.app.routes
        if isinstance(route, APIRoute) and route.path != "/health"
        for method in sorted(route.methods or ())
    ]
    paths = {path for _method, path in routes}
    assert paths >= {
        "/api/place-order",
        "/api/orders/status",
        "/api/orders/{order_id}",
        "/api/orders/{order_id}/cancel",
        "/api/orders/{order_id}/close",
        "/api/monitor-position",
        "/klines/subscribe",
        "/positions/subscribe",
        "/status",
        "/metrics",
    }, paths
    bodies: dict[str, Any] = {
        "/api/place-order": SEED_ORDER,
        "/klines/subscribe": {"symbol": "BTCUSDT", "tfs": ["1m"]},
        "/api/monitor-position": {"id": "m-1", "symbol": "BTCUSDT", "side": "long"},
    }
    session = client.session
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        for method, path in routes:
            url = client.worker_url + _concrete(path)
            async with session.request(
                method, url, json=bodies.get(path), headers=headers
            ) as reply:
                assert reply.status == 401, (method, path, headers, reply.status)
                answer = await reply.json()
                assert answer["fields"][0]["field"] == "authorization"
    # Nothing the refused calls carried was acted on.
    assert (await client.sim_state())["orders"] == []
    async with session.get(client.worker_url + "/health") as reply:  # no token
        assert reply.status == 200
        assert (await reply.json())["ready"] is True
    # With the token, the same calls get through.
    status, _body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200
    for method, path in routes:
        async with session.request(
            method,
            client.worker_url + _concrete(path),
            json=bodies.get(path),
            headers=client.headers,
        ) as reply:
            assert reply.status != 401, (method, path)
