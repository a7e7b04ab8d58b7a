"""Issue 4, restart: one journal, one worker; and a worker killed again while it resumes
still ends with exactly one close at the exchange."""

from __future__ import annotations

import subprocess
import sys

import pytest
from e2e_harness import (
    CLOSE_SIDES,
    SEED_ORDER,
    CrashStack,
    distinct_callbacks,
    eventually,
    filled,
    open_contracts,
    sending_recorded,
    sim_orders,
)

ORDER_ID = str(SEED_ORDER["id"])
SYMBOL = str(SEED_ORDER["symbol"])

pytestmark = pytest.mark.slow


async def test_a_second_worker_on_a_journal_in_use_is_refused_in_one_line(
    crash: CrashStack,
) -> None:
    await crash.start()
    assert crash.worker is not None
    journal_args = ["--var-dir", str(crash.tmp_path), "--config", str(crash.worker.config)]
    second = subprocess.run(
        [sys.executable, "-m", "zoneguard.cli", "worker", "--port", "1", *journal_args],
        env=crash.worker.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert "in use by another process" in lines[0]
    assert crash.alive, "the running worker is untouched"


async def test_killed_again_while_resuming_a_close(crash: CrashStack) -> None:
    """Close refused, killed; restarted and killed again the moment the resumed close
    reaches the exchange; restarted once more: one close, one ``closed``."""
    client = await crash.start()
    status, body = await client.post("/api/place-order", SEED_ORDER)
    assert status == 200, body
    await client.price(SYMBOL, 65400)
    await crash.receiver.wait_for(ORDER_ID, "placed")
    await client.price(SYMBOL, 65300)
    await crash.receiver.wait_for(ORDER_ID, "filled")
    await client.fault({"reject_orders": {"count": 1000, "reduce_only": True}})
    await client.price(SYMBOL, 63950)
    await crash.receiver.wait_for(ORDER_ID, "close_failed")
    crash.kill()
    await client.fault({"clear": True})

    crash.kill_on_submit(lambda req: req.side in CLOSE_SIDES, execute=True)
    await crash.restart(killed_while_resuming=True)
    await eventually(lambda: not crash.alive, 5, "the worker killed at its resumed close")
    state = await client.sim_state()
    assert open_contracts(state, SYMBOL) == 0
    (landed,) = sim_orders(state, sides=CLOSE_SIDES)
    # It had recorded the close it died sending: the journal's "closing" if its commit came
    # before the SIGKILL, else the intent log's line for that very request (asserting
    # "closing" alone failed whenever the kill won that race on a busy machine).
    assert sending_recorded(crash.tmp_path, ORDER_ID, "close", landed["client_order_id"])

    await crash.restart()
    closed = await crash.receiver.wait_for(ORDER_ID, "closed")
    assert (closed["reason"], closed["closed_by"]) == ("stop_loss", "worker")
    state = await client.sim_state()
    assert len(sim_orders(state, sides=CLOSE_SIDES)) == 1
    assert len(filled(sim_orders(state, sides=CLOSE_SIDES))) == 1
    found = [b["status"] for b in distinct_callbacks(crash.receiver, ORDER_ID)]
    assert found.count("closed") == 1 and found[-1] == "closed", found
