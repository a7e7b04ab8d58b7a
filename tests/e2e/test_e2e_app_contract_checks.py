"""The app checks a signal against the worker's contract facts before it stores anything: an
unknown symbol, a size below one contract or a leverage the contract does not allow is a 422
naming the field, with a real worker over the simulator behind the app. The facts are cached
(the app still refuses with the worker gone), and a worker that cannot answer never makes
the app refuse: the signal is accepted and the skipped check is logged."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from app_e2e_support import SIGNAL, App, AppFactory, app_factory, free_port, sqlite_url
from app_harness import make_settings
from e2e_harness import Stack

from zoneguard.app.server import AppServer

__all__ = ["app_factory"]

MONITOR = {"symbol": "BTCUSDT", "side": "long", "stop_loss": 64000, "take_profit": 68000}


@pytest.fixture
def backend(tmp_path: Path) -> dict[str, Any]:
    """Refusals happen before the database or the bus are touched: SQLite is enough."""
    return {"database_url": sqlite_url(tmp_path)}


async def nothing_stored(app: App) -> None:
    status, orders = await app.http.get("/api/orders")
    assert status == 200
    assert orders["orders"] == [], "a refused signal leaves no order"
    _status, health = await app.http.get("/health")
    assert health["pending_messages"] == 0, "and no bus message"


async def test_unknown_symbol_small_size_and_wrong_leverage_are_422_before_storing(
    stack: Stack, app_factory: AppFactory
) -> None:
    await stack.start()
    app = app_factory()
    await app.start()

    status, body = await app.http.post("/api/signals", {**SIGNAL, "symbol": "XYZUSDT"})
    assert status == 422
    assert body["fields"] == [{"field": "symbol", "message": "XYZUSDT is not traded"}]

    status, body = await app.http.post("/api/signals", {**SIGNAL, "quantity": "0.0001"})
    assert status == 422
    assert body["fields"] == [
        {"field": "quantity", "message": "0.0001 BTC is below one contract of 0.001 BTC"}
    ]
    assert body["error"] == "quantity: 0.0001 BTC is below one contract of 0.001 BTC"

    status, body = await app.http.post("/api/signals", {**SIGNAL, "leverage": 150})
    assert status == 422
    assert [f["field"] for f in body["fields"]] == ["leverage"]
    assert "1x..100x" in body["error"]

    status, body = await app.http.post("/api/positions/monitor", {**MONITOR, "symbol": "xyzusdt"})
    assert status == 422
    assert body["fields"] == [{"field": "symbol", "message": "XYZUSDT is not traded"}]
    await nothing_stored(app)

    status, body = await app.http.post("/api/signals", {**SIGNAL, "quantity": "0.001"})
    assert status == 201, body
    await app.wait_status(body["id"], "submitted")  # the worker takes what the app took
    status, body = await app.http.post("/api/positions/monitor", MONITOR)
    assert status == 201, body


async def test_the_facts_are_cached_and_a_gone_worker_never_refuses(
    stack: Stack, app_factory: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    await stack.start(sim={"prices": {"BTCUSDT": 66000, "ETHUSDT": 3000}})
    app = app_factory()
    await app.start(consume=False)
    caplog.set_level(logging.WARNING, logger="zoneguard.orders")
    assert (await app.http.post("/api/signals", {**SIGNAL, "symbol": "XYZUSDT"}))[0] == 422
    assert (await app.http.post("/api/signals", {**SIGNAL, "quantity": "0.0001"}))[0] == 422

    assert stack.worker is not None
    await stack.worker.stop()
    stack.worker = None  # stopped here, not again at the end
    # Known facts and unknown symbols are remembered: still refused with the worker gone.
    status, body = await app.http.post("/api/signals", {**SIGNAL, "symbol": "XYZUSDT"})
    assert (status, body["fields"][0]["field"]) == (422, "symbol")
    status, body = await app.http.post("/api/signals", {**SIGNAL, "quantity": "0.0001"})
    assert (status, body["fields"][0]["field"]) == (422, "quantity")

    # A symbol never asked about cannot be checked now: accepted, and the skip is logged.
    assert not any("contract check skipped" in r.getMessage() for r in caplog.records)
    status, body = await app.http.post("/api/signals", {**SIGNAL, "symbol": "ETHUSDT"})
    assert status == 201, body
    (skipped,) = [r for r in caplog.records if "contract check skipped" in r.getMessage()]
    assert skipped.levelno == logging.WARNING
    assert "ETHUSDT" in skipped.getMessage()


async def test_a_worker_down_from_the_start_never_makes_the_app_refuse(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="zoneguard.orders")
    settings = make_settings(sqlite_url(tmp_path), tmp_path)  # no worker at its address
    server = AppServer(settings, free_port(), consume=False)
    await server.start()
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(server.url + "/api/signals", json=SIGNAL) as reply,
        ):
            assert reply.status == 201, await reply.text()
    finally:
        await server.stop()
    assert any("contract check skipped" in r.getMessage() for r in caplog.records)
