"""Regression tests for what fuzzing the app's API found (``tests/fuzz``): each refusal
names what was wrong, in the app's error shape."""

from __future__ import annotations

from typing import Any

from app_harness import SIGNAL, AppStarter, sqlite_url


def names(body: dict[str, Any]) -> list[str]:
    assert body["ok"] is False and body["status"] == "error", body
    assert body["error"].startswith(body["fields"][0]["field"] + ": "), body
    return [f["field"] for f in body["fields"]]


async def test_a_method_the_route_does_not_take_is_a_405_with_allow(
    start_app: AppStarter, tmp_path: Any
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False)
    for method, path, allowed in [
        ("DELETE", "/api/orders", "GET"),
        ("PUT", "/api/signals", "POST"),
        ("TRACE", "/health", "GET"),
        ("OPTIONS", "/api/orders/callback", "POST"),  # not the GET of /api/orders/{order_id}
    ]:
        url = app.http.base_url + path
        async with app.http.session.request(method, url) as reply:
            assert reply.status == 405, (method, path)
            assert reply.headers["Allow"] == allowed, (method, path, reply.headers)
            assert names(await reply.json()) == ["method"]
    status, body = await app.http.get("/api/nothing-here")
    assert (status, names(body)) == (404, ["path"])


async def test_an_unknown_query_parameter_is_refused_not_ignored(
    start_app: AppStarter, tmp_path: Any
) -> None:
    """``?stauts=failed`` used to list every order."""
    app = await start_app(sqlite_url(tmp_path), consume=False)
    status, body = await app.http.get("/api/orders?stauts=failed")
    assert (status, names(body)) == (422, ["stauts"])
    assert "limit, status, symbol" in body["error"]
    status, body = await app.http.get("/api/messages/failed?=null&limit=5")
    assert (status, names(body)) == (422, ["query"])
    status, body = await app.http.get("/api/orders?status=failed&limit=5")
    assert status == 200, body


async def test_an_unknown_key_without_a_plain_name_is_named_quoted_and_cut(
    start_app: AppStarter, tmp_path: Any
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False)
    for key in ("", "a b", "x" * 500):
        status, body = await app.http.post("/api/signals", {**SIGNAL, key: 1})
        assert status == 422, body
        assert names(body) == [repr(key[:64])], body
        assert len(body["error"]) < 200, body
    status, body = await app.http.post("/api/signals", {**SIGNAL, "colour": "red"})
    assert (status, names(body)) == (422, ["colour"])


async def test_monitor_metadata_may_be_null_as_documented(
    start_app: AppStarter, tmp_path: Any
) -> None:
    app = await start_app(sqlite_url(tmp_path), consume=False)
    body = {"symbol": "BTCUSDT", "side": "long", "stop_loss": "60000", "metadata": None}
    status, answer = await app.http.post("/api/positions/monitor", body)
    assert status == 201, answer
    assert answer["order"]["metadata"] == {}
    status, document = await app.http.get("/openapi.json")
    schema = document["paths"]["/api/positions/monitor"]["post"]["requestBody"]["content"]
    metadata = schema["application/json"]["schema"]["properties"]["metadata"]
    assert {"type": "null"} in metadata["anyOf"], metadata
