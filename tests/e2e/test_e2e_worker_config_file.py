"""`zoneguard worker` says which trading configuration it runs on, through the real CLI in a
child process: the file it loaded (absolute path), or that none was found and the built-in
defaults apply; a ``--config`` that names no file stops it in one line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from e2e_harness import free_port, sim_config

from zoneguard.sim.server import SimServer

pytestmark = pytest.mark.slow


def worker_command(port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "zoneguard.cli", "worker", "--port", str(port), *extra]


def sim_environment(sim: SimServer) -> dict[str, str]:
    return {
        **os.environ,
        "BITMART_API_KEY": sim.config.api_key,
        "BITMART_API_SECRET": sim.config.api_secret,
        "BITMART_API_MEMO": sim.config.api_memo,
        "BITMART_REST_URL": sim.base_url,
        "BITMART_WS_PUBLIC_URL": sim.ws_public_url,
        "BITMART_WS_PRIVATE_URL": sim.ws_private_url,
        "APP_BASE_URL": "http://127.0.0.1:9",
    }


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(sim_config()) as server:
        yield server


async def run_until_ready(sim: SimServer, cwd: Path, *extra: str) -> str:
    """Start the worker in ``cwd``, wait until it is ready, stop it; its ``app.log``."""
    port = free_port()
    stderr = cwd / "stderr.txt"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            worker_command(port, *extra),
            cwd=cwd,
            env=sim_environment(sim),
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 20
            while True:
                assert proc.poll() is None, stderr.read_text()[-2000:]
                try:
                    async with session.get(f"http://127.0.0.1:{port}/health") as reply:
                        if reply.status == 200 and (await reply.json())["ready"]:
                            break
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < deadline, "worker did not become ready"
                await asyncio.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(20)
    return (cwd / "var" / "log" / "app.log").read_text()


def config_lines(log: str) -> list[str]:
    """The lines that say which configuration runs (there must be exactly one)."""
    needles = ("config loaded from", "no config file")
    return [line for line in log.splitlines() if any(n in line for n in needles)]


async def test_started_away_from_config_it_warns_that_the_defaults_apply(
    sim: SimServer, tmp_path: Path
) -> None:
    log = await run_until_ready(sim, tmp_path)
    (line,) = config_lines(log)
    assert " WARNING " in line
    assert f"config/orders.yaml not found in {tmp_path}" in line
    assert "built-in defaults apply" in line


async def test_it_logs_the_absolute_path_of_the_file_it_loaded(
    sim: SimServer, tmp_path: Path
) -> None:
    config = tmp_path / "mine" / "orders.yaml"
    config.parent.mkdir()
    config.write_text("orders:\n  stop_loss:\n    check_interval_ms: 150\n")
    log = await run_until_ready(sim, tmp_path, "--config", "mine/orders.yaml")
    (line,) = config_lines(log)
    assert " INFO " in line
    assert line.endswith(f"config loaded from {config}")


async def test_the_default_file_in_the_working_directory_is_found_and_named(
    sim: SimServer, tmp_path: Path
) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "orders.yaml").write_text("orders: {}\n")
    log = await run_until_ready(sim, tmp_path)
    (line,) = config_lines(log)
    assert line.endswith(f"config loaded from {tmp_path / 'config' / 'orders.yaml'}")


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("absent.yaml", "absent.yaml does not exist"),
        ("config/orders.yaml", "config/orders.yaml does not exist"),  # the default's name
        (".", ". is not a file"),
    ],
)
def test_a_config_that_names_no_file_stops_it_in_one_line(
    tmp_path: Path, given: str, problem: str
) -> None:
    done = subprocess.run(
        worker_command(free_port(), "--config", given, "--var-dir", str(tmp_path / "var")),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "--config" in lines[0] and problem in lines[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "var").exists(), "it must stop before doing anything"
