"""The whole chain over real sockets: app -> bus -> worker -> simulator -> worker ->
signed callback -> app, from a signal to its take-profit. On SQLite with the database bus,
and on PostgreSQL with RabbitMQ when ZONEGUARD_TEST_PG_URL / ZONEGUARD_TEST_AMQP_URL are
set; then the app restarted mid-flow: no message lost, no callback applied twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import app_e2e_support
import pytest
from aiohttp import web
from app_e2e_support import SECRET, SIGNAL, AppFactory, Http, free_port
from e2e_harness import STARTUP_BOUND_S, Stack

from zoneguard.worker.journal import encode_json
from zoneguard.worker.outbox import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_callback

# The shared fixtures, bound here for pytest to find (see app_e2e_support).
backend = app_e2e_support.backend
app_factory = app_e2e_support.app_factory
pg_url = app_e2e_support.pg_url
amqp_dsn = app_e2e_support.amqp_dsn


async def test_a_signal_goes_to_take_profit_through_the_whole_chain(
    stack: Stack, app_factory: AppFactory
) -> None:
    sim = await stack.start(callback_secret=SECRET)
    app = app_factory()
    await app.start()
    status, body = await app.http.post("/api/signals", SIGNAL)
    assert status == 201, body
    order_id = body["id"]
    await app.wait_status(order_id, "submitted")

    await sim.prices("BTCUSDT", 65800, 65400)  # into the zone
    placed = await app.wait_status(order_id, "placed")
    assert placed["exchange_order_id"]
    assert 65000 <= float(placed["entry_price"]) <= 65500
    await sim.prices("BTCUSDT", 65300, 65250)  # trades through the resting buy
    filled = await app.wait_status(order_id, "filled")
    assert filled["position"]["status"] == "open"
    await sim.prices("BTCUSDT", 66500, 67500, 68010)  # take-profit crossed
    closed = await app.wait_status(order_id, "closed")

    assert closed["reason"] == "take_profit"
    assert closed["close_order_id"]
    assert float(closed["close_price"]) >= 68000 * 0.999
    position = closed["position"]
    assert position["status"] == "closed"
    assert position["close_reason"] == "take_profit"
    assert float(position["exit_price"]) >= 68000 * 0.999
    assert float(position["realized_pnl"]) > 0
    events = [t["event"] for t in closed["transitions"]]
    assert events == ["queued", "submitted", "placed", "filled", "closed"]
    assert all(t["applied"] for t in closed["transitions"])
    assert all(t["event_id"] for t in closed["transitions"][2:])  # signed callbacks, deduped
    assert stack.receiver.bodies == []  # every callback went to the app, none elsewhere
    _, positions = await app.http.get("/api/positions?status=closed")
    assert [p["id"] for p in positions["positions"]] == [order_id]


async def test_a_laddered_signal_takes_tp1_moves_to_break_even_and_takes_tp2(
    stack: Stack, app_factory: AppFactory
) -> None:
    """Issue 9 through the app: the legs ride the bus to the worker, and the app keeps each
    partial close and stop move in the order's history and shows where the legs stand."""
    sim = await stack.start(callback_secret=SECRET)
    app = app_factory()
    await app.start()
    ladder = {k: v for k, v in SIGNAL.items() if k != "take_profit"}
    ladder["take_profits"] = [
        {"price": 66000, "size_percent": 50},
        {"price": 67000, "size_percent": 50},
    ]
    ladder["break_even"] = {"after_take_profit": 1}
    status, body = await app.http.post("/api/signals", ladder)
    assert status == 201, body
    order_id = body["id"]
    assert body["order"]["take_profits"] == [
        {"price": "66000", "size_percent": "50"},
        {"price": "67000", "size_percent": "50"},
    ]
    await app.wait_status(order_id, "submitted")
    await sim.prices("BTCUSDT", 65800, 65400)
    await app.wait_status(order_id, "placed")
    await sim.prices("BTCUSDT", 65300, 65250)
    filled = await app.wait_status(order_id, "filled")
    await sim.prices("BTCUSDT", 65800, 66010)  # TP1

    async def tp1_and_break_even() -> dict[str, Any] | None:
        _, detail = await app.http.get(f"/api/orders/{order_id}")
        events = [t["event"] for t in detail["transitions"]]
        return detail if {"partially_closed", "stop_moved"} <= set(events) else None

    deadline = time.monotonic() + 10
    while (detail := await tp1_and_break_even()) is None:
        assert time.monotonic() < deadline, "no partially_closed and stop_moved in the app"
        await asyncio.sleep(0.05)
    assert detail["status"] == "filled", "a note moves no status"
    progress = detail["exit_progress"]
    first, second = progress["take_profits"]
    assert (first["state"], first["closed_quantity"]) == ("closed", 5)
    assert second["state"] == "waiting"
    assert progress["stop_reason"] == "break_even"
    assert float(progress["stop_loss"]) >= float(filled["entry_price"])

    await sim.prices("BTCUSDT", 66500, 67010)  # TP2
    closed = await app.wait_status(order_id, "closed")
    assert closed["reason"] == "take_profit"
    assert closed["transitions"][-1]["data"]["filled_contracts"] == 5, "the close closed 5"
    events = [t["event"] for t in closed["transitions"]]
    assert events == [
        "queued",
        "submitted",
        "placed",
        "filled",
        "partially_closed",
        "stop_moved",
        "closed",
    ]
    assert [r["state"] for r in closed["exit_progress"]["take_profits"]] == ["closed", "closed"]
    assert closed["filled_contracts"] == "10", "the order keeps what was entered"
    position = closed["position"]
    assert position["filled_contracts"] == "10"
    first, last = Decimal(str(first["close_price"])), Decimal(closed["close_price"])
    assert Decimal(position["exit_price"]) == ((first + last) / 2).quantize(Decimal("1e-10"))


async def test_a_signal_with_entry_zones_is_entered_zone_by_zone_and_closed_whole(
    stack: Stack, app_factory: AppFactory
) -> None:
    """Pyramiding through the app: the zones ride the bus to the worker, each zone's entry
    reaches the app with its entry_index (the first moves the order, the second is kept as
    a note that sets the position's size and average entry), entry_progress follows each
    zone, and the take-profit closes all that filled."""
    sim = await stack.start(callback_secret=SECRET)
    app = app_factory()
    await app.start()
    zoned = {k: v for k, v in SIGNAL.items() if not k.startswith("entry_zone_")}
    zoned.update(stop_loss=63000, take_profit=66000)
    zoned["entry_zones"] = [
        {"min": 65000, "max": 65500, "size_percent": 50},
        {"min": 64000, "max": 64500, "size_percent": 50},
    ]
    status, body = await app.http.post("/api/signals", zoned)
    assert status == 201, body
    order_id = body["id"]
    await app.wait_status(order_id, "submitted")

    def zones(detail: dict[str, Any]) -> list[str]:
        return [zone["state"] for zone in detail["entry_progress"]["zones"]]

    async def until(check: Any, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + 10
        while not check(detail := await app.order(order_id)):
            assert time.monotonic() < deadline, f"{what}: {detail['entry_progress']}"
            await asyncio.sleep(0.05)
        return detail

    await sim.prices("BTCUSDT", 65300)  # zone 1
    placed = await app.wait_status(order_id, "placed")
    assert zones(placed) == ["placed", "waiting"]
    await sim.prices("BTCUSDT", 65200, 65100)
    first = await app.wait_status(order_id, "filled")
    assert (first["filled_contracts"], zones(first)) == ("5", ["filled", "waiting"])
    await sim.prices("BTCUSDT", 64300)  # zone 2, once the position exists
    await until(lambda d: zones(d) == ["filled", "placed"], "zone 2 placed")
    await sim.prices("BTCUSDT", 64200, 64100)
    both = await until(lambda d: zones(d) == ["filled", "filled"], "zone 2 filled")
    assert both["status"] == "filled", "a later zone moves no status"
    zone_1, zone_2 = both["entry_progress"]["zones"]
    average = (Decimal(zone_1["entry_price"]) + Decimal(zone_2["entry_price"])) / 2
    assert both["filled_contracts"] == "10"
    assert Decimal(both["entry_price"]) == pytest.approx(average)
    position = both["position"]
    assert (position["status"], position["filled_contracts"]) == ("open", "10")
    assert Decimal(position["entry_price"]) == pytest.approx(average)

    await sim.prices("BTCUSDT", 65000, 66010)  # the take-profit, for all 10
    closed = await app.wait_status(order_id, "closed")
    assert (closed["reason"], closed["filled_contracts"]) == ("take_profit", "10")
    assert closed["position"]["filled_contracts"] == "10"
    events = [(t["event"], t["applied"]) for t in closed["transitions"]]
    assert events == [
        ("queued", True),
        ("submitted", True),
        ("placed", True),
        ("filled", True),
        ("placed", False),
        ("filled", False),
        ("closed", True),
    ]
    assert [t["data"].get("entry_index") for t in closed["transitions"][2:6]] == [1, 1, 2, 2]


async def test_the_app_restarted_mid_flow_loses_nothing_and_applies_nothing_twice(
    stack: Stack, app_factory: AppFactory
) -> None:
    sim = await stack.start(callback_secret=SECRET)
    app = app_factory()
    # 1. The signal is accepted while no consumer runs, then the app goes away.
    await app.start(consume=False)
    _, body = await app.http.post("/api/signals", SIGNAL)
    order_id = body["id"]
    await app.stop()
    # 2. Back up: the message is still there and reaches the worker.
    await app.start()
    await app.wait_status(order_id, "submitted")
    # 3. The app is down while the order is placed and filled: the worker keeps the news.
    await app.stop()
    await sim.prices("BTCUSDT", 65800, 65400, 65300, 65250)
    await sim.wait_state(order_id, "open")
    await app.start()
    filled = await app.wait_status(order_id, "filled", timeout=20)
    assert [t["event"] for t in filled["transitions"]] == [
        "queued",
        "submitted",
        "placed",
        "filled",
    ]
    # 4. A callback delivered again (the worker never saw our 200) changes nothing.
    placed_event = filled["transitions"][2]
    assert placed_event["event"] == "placed"
    replay = encode_json(placed_event["data"])
    stamp = str(time.time_ns() // 1_000_000)
    headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign_callback(SECRET, stamp, replay)}
    status, answer = await app.http.post("/api/orders/callback", raw=replay, headers=headers)
    assert (status, answer) == (200, {"status": "ok", "duplicate": True})
    # 5. And the flow carries on to the end, each step exactly once.
    await sim.prices("BTCUSDT", 66500, 67500, 68010)
    closed = await app.wait_status(order_id, "closed")
    events = [t["event"] for t in closed["transitions"]]
    assert events == ["queued", "submitted", "placed", "filled", "closed"]
    _, pending = await app.http.get("/health")
    assert (pending["pending_messages"], pending["failed_messages"]) == (0, 0)


class BlackHole:
    """A "worker" that accepts requests and never answers: the app's handler hangs in it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.seen = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._swallow)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _swallow(self, _request: web.Request) -> web.Response:
        self.seen += 1
        await asyncio.sleep(3600)
        return web.Response()


class AppProcess:
    """`python -m zoneguard.app` as a child process, to be killed with SIGKILL."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path) -> None:
        self.env = env
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self, session: aiohttp.ClientSession, worker_url: str) -> None:
        env = {**os.environ, **self.env, "WS_WORKER_BASE_URL": worker_url}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "zoneguard.app", "app", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_BOUND_S
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"app exited: {self.log_path.read_text()[-2000:]}")
            try:
                async with session.get(f"http://127.0.0.1:{self.port}/health") as reply:
                    if reply.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the app did not come up")
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.mark.slow
async def test_an_app_killed_while_handling_a_message_hands_it_over_after_restart(
    stack: Stack, tmp_path: Path, backend: dict[str, Any]
) -> None:
    sim = await stack.start(callback_secret=SECRET)
    assert stack.worker is not None
    hole = BlackHole()
    await hole.start()
    port = free_port()
    env = {
        "DATABASE_URL": backend["database_url"],
        "MESSENGER_TRANSPORT_DSN": backend.get("messenger_transport_dsn", "db://"),
        "APP_BASE_URL": f"http://127.0.0.1:{port}",
        "ZONEGUARD_CALLBACK_SECRET": SECRET,
        "ZONEGUARD_VAR_DIR": str(tmp_path / "app-var"),
        "WS_WORKER_TIMEOUT_S": "60",
        "BUS_LEASE_S": "1",
        "BUS_POLL_INTERVAL_S": "0.1",
    }
    child = AppProcess(env, port, tmp_path / "app-out.txt")
    session = aiohttp.ClientSession()
    http = Http(session, f"http://127.0.0.1:{port}")
    try:
        await child.start(session, f"http://127.0.0.1:{hole.port}")
        _, body = await http.post("/api/signals", SIGNAL)
        order_id = body["id"]
        deadline = time.monotonic() + 10
        while hole.seen == 0:  # the handler is now stuck waiting for the "worker"
            assert time.monotonic() < deadline, "the message never reached the worker"
            await asyncio.sleep(0.02)
        child.kill()
        await child.start(session, stack.worker.url)
        deadline = time.monotonic() + 15
        while (await http.get(f"/api/orders/{order_id}"))[1]["status"] != "submitted":
            assert time.monotonic() < deadline, "the message was lost with the killed app"
            await asyncio.sleep(0.05)
        await sim.prices("BTCUSDT", 65800, 65400)
        deadline = time.monotonic() + 10
        while (await http.get(f"/api/orders/{order_id}"))[1]["status"] != "placed":
            assert time.monotonic() < deadline, "no placed callback"
            await asyncio.sleep(0.05)
        log = (tmp_path / "app-var" / "log" / "orders.log").read_text()
        assert order_id in log
        assert "signal received" in log
        assert "callback placed" in (tmp_path / "app-var" / "log" / "orders-info.log").read_text()
    finally:
        child.terminate()
        await session.close()
        await hole.stop()
