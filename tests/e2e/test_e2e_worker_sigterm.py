"""SIGTERM stops the worker process cleanly: its own shutdown runs before the process exits."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from e2e_harness import Receiver, WorkerProcess, sim_config

from zoneguard.sim.server import SimServer


@pytest.mark.slow
async def test_sigterm_runs_the_worker_shutdown(tmp_path: Path) -> None:
    receiver = Receiver()
    await receiver.start()
    config = tmp_path / "orders.yaml"
    config.write_text("orders: {}\n")
    async with SimServer(sim_config()) as sim, aiohttp.ClientSession() as session:
        worker = WorkerProcess(sim, receiver, tmp_path, config)
        try:
            await worker.start(session)
            assert worker.proc is not None
            worker.proc.terminate()  # SIGTERM
            code = worker.proc.wait(20)
        finally:
            worker.terminate()
    await receiver.stop()
    assert code == 0
    log = (tmp_path / "log" / "app.log").read_text()
    assert "worker stopped cleanly" in log
