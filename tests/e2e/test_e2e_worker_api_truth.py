"""The control API says what it does: the OpenAPI document lists each route's real statuses
and bodies, and the answers it documents are the ones it gives (findings of the schema
fuzzing and of a newcomer, each pinned here)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from e2e_harness import SEED_ORDER, Stack

TOKEN = "truth-token-91b2"


def fields_of(answer: dict[str, Any]) -> list[str]:
    return [item["field"] for item in answer["fields"]]


async def test_every_route_documents_its_real_statuses_and_bodies(stack: Stack) -> None:
    client = await stack.start(api_token=TOKEN)
    status, document = await client.get("/openapi.json")
    assert status == 200
    paths = document["paths"]
    statuses = {
        (method.upper(), path): sorted(operation["responses"])
        for path, methods in paths.items()
        for method, operation in methods.items()
    }
    assert statuses[("POST", "/api/place-order")] == [
        "200",
        "400",
        "401",
        "409",
        "413",
        "422",
        "503",
    ]
    assert statuses[("POST", "/klines/subscribe")] == ["200", "400", "401", "413", "422", "503"]
    assert statuses[("GET", "/api/market/{symbol}/klines")] == [
        "200",
        "401",
        "404",
        "413",
        "422",
        "503",
    ]
    assert statuses[("POST", "/api/orders/{order_id}/cancel")] == [
        "200",
        "202",
        "401",
        "404",
        "409",
        "413",
        "422",
    ]
    assert statuses[("GET", "/health")] == ["200", "413"]  # no token needed there
    for (method, path), codes in statuses.items():
        operation = paths[path][method.lower()]
        for code in codes:
            content = operation["responses"][code].get("content", {})
            schema = next(iter(content.values()))["schema"] if content else {}
            assert schema, f"{method} {path} {code} documents no body"
            if int(code) >= 400:  # errors are JSON, whatever the route's success is
                assert list(content) == ["application/json"], (method, path, code, content)
    assert list(paths["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]
    # The bearer token is declared, so a client generator knows to send it.
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    # Request bodies state their real constraints.
    place = paths["/api/place-order"]["post"]["requestBody"]["content"]["application/json"]
    assert place["schema"]["additionalProperties"] is False
    assert set(place["schema"]["required"]) >= {"id", "symbol", "side", "quantity"}
    klines = paths["/klines/subscribe"]["post"]["requestBody"]["content"]["application/json"]
    assert "tfs" in klines["schema"]["required"]


async def test_without_a_token_the_document_claims_no_401(stack: Stack) -> None:
    client = await stack.start()
    _status, document = await client.get("/openapi.json")
    for methods in document["paths"].values():
        for operation in methods.values():
            assert "401" not in operation["responses"]
    assert "securitySchemes" not in document.get("components", {})


async def test_klines_subscribe_requires_tfs(stack: Stack) -> None:
    client = await stack.start()
    status, answer = await client.post("/klines/subscribe", {"symbol": "BTCUSDT"})
    assert status == 422, answer
    assert fields_of(answer) == ["tfs"]
    assert answer["error"].startswith("tfs: is required")
    _status, worker = await client.get("/status")
    assert worker["kline_channels"] == []  # nothing subscribed silently
    status, answer = await client.post("/klines/subscribe", {"symbol": "BTCUSDT", "tfs": ["1H"]})
    assert (status, answer["tfs"]) == (200, ["1h"])  # BitMart's spelling is understood


async def test_klines_of_an_unknown_symbol_is_404_naming_it_and_a_down_exchange_is_503(
    stack: Stack,
) -> None:
    client = await stack.start()
    status, answer = await client.get("/api/market/DOGEUSDT/klines?tf=1m&limit=5")
    assert status == 404, answer
    assert fields_of(answer) == ["symbol"]
    status, answer = await client.get("/api/market/BTC-USDT/klines")
    assert (status, fields_of(answer)) == (422, ["symbol"])
    status, answer = await client.get("/api/market/BTCUSDT/klines?limit=0")
    assert (status, fields_of(answer)) == (422, ["limit"])
    status, answer = await client.get("/api/market/BTCUSDT/klines?tf=1M")  # a month? no
    assert (status, fields_of(answer)) == (422, ["tf"])
    status, answer = await client.get("/api/market/BTCUSDT/klines?tf=1m&limit=5")
    assert status == 200 and answer["symbol"] == "BTCUSDT", answer
    assert stack.sim is not None
    await stack.sim.stop()  # the exchange goes away: not the caller's mistake
    status, answer = await client.get("/api/market/ETHUSDT/klines")
    assert status == 503, answer


async def test_a_wrong_method_is_405_with_allow_and_an_unknown_path_404(stack: Stack) -> None:
    client = await stack.start()
    session = client.session
    async with session.get(client.worker_url + "/api/place-order") as reply:
        assert reply.status == 405
        assert reply.headers["Allow"] == "POST"
        answer = await reply.json()
    assert fields_of(answer) == ["method"]
    async with session.delete(client.worker_url + "/status") as reply:
        assert reply.status == 405
        assert reply.headers["Allow"] == "GET"
    status, answer = await client.get("/api/no-such-route")
    assert (status, fields_of(answer)) == (404, ["path"])


async def test_a_field_is_named_once_in_a_contract_refusal(stack: Stack) -> None:
    client = await stack.start()
    status, answer = await client.post("/api/place-order", {**SEED_ORDER, "quantity": 0.0001})
    assert status == 422, answer
    assert answer["error"] == "quantity: 0.0001 BTC is below one contract of 0.001 BTC"
    assert answer["fields"] == [
        {"field": "quantity", "message": "0.0001 BTC is below one contract of 0.001 BTC"}
    ]
    status, answer = await client.post("/api/place-order", {**SEED_ORDER, "leverage": 150})
    assert status == 422, answer
    assert answer["error"].count("leverage") == 1, answer


async def test_order_routes_name_the_order_id_in_every_refusal(stack: Stack) -> None:
    client = await stack.start()
    for path in ("/api/orders/nope/cancel", "/api/orders/nope/close"):
        status, answer = await client.post(path)
        assert (status, fields_of(answer)) == (404, ["order_id"]), (path, answer)
    status, answer = await client.post("/api/orders/bad%20id/cancel")
    assert (status, fields_of(answer)) == (422, ["order_id"])
    status, _body = await client.post("/api/place-order", SEED_ORDER)
    status, answer = await client.post(f"/api/orders/{SEED_ORDER['id']}/close")
    assert (status, fields_of(answer)) == (409, ["order_id"]), answer
    status, answer = await client.post("/api/callbacks/nope/retry")
    assert (status, fields_of(answer)) == (404, ["event_id"])


async def position_and_contract_lookups(client: Any) -> dict[str, int]:
    requests = (await client.sim_state())["counters"]["requests"]
    return {path: n for path, n in requests.items() if "position" in path or "details" in path}


async def test_monitor_position_checks_its_fields_before_asking_the_exchange(
    stack: Stack,
) -> None:
    client = await stack.start(sim={"prices": {"BTCUSDT": Decimal("66000")}})
    before = await position_and_contract_lookups(client)
    status, answer = await client.post(
        "/api/monitor-position",
        {"id": "m-1", "symbol": "BTC/../USDT", "side": "sideways", "timeout_seconds": 0},
    )
    assert status == 422, answer
    assert set(fields_of(answer)) == {"symbol", "side", "timeout_seconds"}
    after = await position_and_contract_lookups(client)
    assert after == before, "the exchange was asked about a malformed request"
