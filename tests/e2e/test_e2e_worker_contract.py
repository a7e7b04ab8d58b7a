"""`GET /api/market/{symbol}/contract` on the real worker over the simulator: a contract's
facts, 404 naming `symbol` for a symbol the exchange does not trade, 422 for one that is not
a symbol, 503 when the exchange cannot be asked, the token rule of its neighbours, and its
statuses in the OpenAPI document."""

from __future__ import annotations

from decimal import Decimal

from e2e_harness import Stack

from zoneguard.domain.contract import contracts_for_quantity
from zoneguard.domain.contract_facts import spec_from_facts


async def test_the_contract_facts_of_a_traded_symbol(stack: Stack) -> None:
    client = await stack.start()
    status, facts = await client.get("/api/market/btcusdt/contract")
    assert status == 200, facts
    assert facts == {
        "symbol": "BTCUSDT",
        "base_currency": "BTC",
        "quote_currency": "USDT",
        "contract_size": "0.001",
        "lot_size": "1",
        "tick_size": "0.1",
        "min_contracts": "1",
        "max_contracts": "500000",
        "market_max_contracts": "100000",
        "min_quantity": "0.001",
        "max_quantity": "500",
        "min_leverage": "1",
        "max_leverage": "100",
    }
    # What the app reads back judges a size as the worker does.
    spec = spec_from_facts(facts)
    assert contracts_for_quantity(spec, Decimal("0.0105")) == 10


async def test_unknown_malformed_and_unreachable(stack: Stack) -> None:
    client = await stack.start(sim={"prices": {"BTCUSDT": 66000, "ETHUSDT": 3000}})
    status, body = await client.get("/api/market/XYZUSDT/contract")
    assert status == 404
    assert body["fields"] == [{"field": "symbol", "message": "XYZUSDT is not traded"}]
    status, body = await client.get("/api/market/BTC-USDT/contract")
    assert status == 422
    assert body["fields"][0]["field"] == "symbol"
    assert stack.sim is not None
    await stack.sim.stop()  # the exchange is gone; ETHUSDT was never asked about
    status, body = await client.get("/api/market/ETHUSDT/contract")
    assert status == 503
    assert body["error"].startswith("exchange unavailable")


async def test_the_route_needs_the_token_and_is_documented(stack: Stack) -> None:
    client = await stack.start(api_token="contract-token")
    status, facts = await client.get("/api/market/BTCUSDT/contract")
    assert status == 200
    assert facts["symbol"] == "BTCUSDT"
    client.headers.clear()
    status, body = await client.get("/api/market/BTCUSDT/contract")
    assert status == 401
    assert body["error"].startswith("authorization:")
    assert stack.worker is not None and stack.worker.app is not None
    route = stack.worker.app.openapi()["paths"]["/api/market/{symbol}/contract"]["get"]
    assert set(route["responses"]) >= {"200", "401", "404", "422", "503"}
    schema = route["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/ContractFactsBody")
