"""A stop-loss fires on time while the worker's control API is being sent 50 MB bodies.

The control API is served by the event loop that fires stop-losses. Here the worker is a real
process (``zoneguard worker``) guarding a position; another process keeps sending it 50 MB
bodies (declared and chunked) and holds a slow request open; the price crosses the stop; the
close order must reach the simulator within the seed's 500 ms of the price push, while the
worker's peak memory stays flat (no body read whole)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from e2e_harness import CLOSE_SIDES, SEED_ORDER, CrashStack, eventually

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
ORDER_ID = str(SEED_ORDER["id"])
SYMBOL = str(SEED_ORDER["symbol"])
UNDER_THE_STOP = 63950
STOP_BUDGET_S = 0.5
"""The seed's target for a stop (< 500 ms), measured from the price push."""
PEAK_GROWTH_LIMIT = 16 * 1024 * 1024
"""A 50 MB body read whole would raise the worker's peak memory by 50 MB or more."""


def peak_rss(pid: int) -> int:
    """The process's peak resident memory (``VmHWM``), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc")


def watch_closes(crash: CrashStack) -> list[float]:
    """When each close order reaches the simulator's matching engine (monotonic clock)."""
    assert crash.sim is not None
    engine = crash.sim.engine
    original = engine.submit_order
    arrivals: list[float] = []

    def submit_order(req: Any, **kwargs: Any) -> Any:
        if req.side in CLOSE_SIDES:
            arrivals.append(time.monotonic())
        return original(req, **kwargs)

    engine.submit_order = submit_order  # type: ignore[method-assign]
    return arrivals


async def test_a_stop_fires_on_time_while_50_mb_bodies_are_refused(crash: CrashStack) -> None:
    client = await crash.start(orders={"exchange_backstop": {"enabled": False}})
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price(SYMBOL, 65400)
    await crash.receiver.wait_for(ORDER_ID, "placed")
    await client.price(SYMBOL, 65300)
    await crash.receiver.wait_for(ORDER_ID, "filled")
    await client.wait_state(ORDER_ID, "open")
    assert crash.worker is not None and crash.worker.proc is not None
    pid = crash.worker.proc.pid
    peak_before = peak_rss(pid)
    arrivals = watch_closes(crash)

    blaster = subprocess.Popen(
        [sys.executable, str(HERE / "body_blaster.py"), str(crash.worker.port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=HERE,
    )
    assert blaster.stdin is not None and blaster.stdout is not None
    try:
        assert (await asyncio.to_thread(blaster.stdout.readline)).strip() == b"started"
        pushed = time.monotonic()
        await client.price(SYMBOL, UNDER_THE_STOP)
        await eventually(lambda: arrivals, 5, "the stop's close order at the exchange")
        stop_s = arrivals[0] - pushed
        blaster.stdin.write(b"stop\n")
        blaster.stdin.flush()
        report = orjson.loads(await asyncio.to_thread(blaster.stdout.readline))
        blaster.wait(30)
    finally:
        if blaster.poll() is None:
            blaster.kill()
            blaster.wait(10)

    closed = await crash.receiver.wait_for(ORDER_ID, "closed")
    assert closed["reason"] == "stop_loss"
    assert stop_s < STOP_BUDGET_S, f"the stop took {stop_s * 1000:.0f} ms under the bodies"
    uploads = report["uploads"]
    assert {u["chunked"] for u in uploads} == {True, False}, uploads
    for upload in uploads:
        assert upload["sent"] < 50 * 1024 * 1024 // 2, upload  # cut off, not read
        assert upload["status"] in (413, None), upload  # 413, or reset before it was read
    assert any(u["status"] == 413 for u in uploads), uploads
    growth = peak_rss(pid) - peak_before
    assert growth < PEAK_GROWTH_LIMIT, f"the worker's peak memory grew {growth >> 20} MiB"
    # The blaster sends body after body without a pause: it began before the push and was
    # still sending after the close arrived (and its slow request was open all along).
    assert min(u["began"] for u in uploads) <= pushed, uploads
    assert max(u["ended"] for u in uploads) >= arrivals[0], uploads
    status, health = await client.get("/status")
    assert status == 200 and health["orders"]["monitored"] == 0, health
