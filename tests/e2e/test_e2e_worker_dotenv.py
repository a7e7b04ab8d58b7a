"""`zoneguard worker` configured by the `.env` of its working directory (the real CLI as a
child process, the simulator in this process): the exchange keys, hosts and APP_BASE_URL come
from the file, a variable of the environment wins over it, the secrets from the file never
reach a log, and a malformed file stops the worker in one line."""

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
from e2e_harness import Receiver, free_port, sim_config

from zoneguard.sim.server import SimServer

KEY = "dotenv-key-7d41c2"
SECRET = "dotenv-secret-93b0fe51"
MEMO = "dotenv-memo-5aa3"

SET_BY_THE_TESTS = (
    "BITMART_API_KEY",
    "BITMART_API_SECRET",
    "BITMART_API_MEMO",
    "BITMART_REST_URL",
    "BITMART_WS_PUBLIC_URL",
    "BITMART_WS_PRIVATE_URL",
    "APP_BASE_URL",
    "ZONEGUARD_API_TOKEN",
    "ZONEGUARD_CALLBACK_SECRET",
    "ALERT_WEBHOOK_URL",
    "ZONEGUARD_CALLBACK_ALERT_AGE_S",
)


def child_env(**values: str) -> dict[str, str]:
    """This process's environment without any variable the test means to set by file."""
    env = {k: v for k, v in os.environ.items() if k not in SET_BY_THE_TESTS}
    env.update(values)
    return env


def worker_args(port: int) -> list[str]:
    return [sys.executable, "-m", "zoneguard.cli", "worker", "--port", str(port)]


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    server = SimServer(sim_config(api_key=KEY, api_secret=SECRET, api_memo=MEMO))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def wait_ready(proc: subprocess.Popen[bytes], url: str, stderr: Path) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"worker exited: {stderr.read_text()[-2000:]}")
            try:
                async with session.get(url + "/health") as reply:
                    if reply.status == 200 and (await reply.json())["ready"]:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the worker did not become ready")
            await asyncio.sleep(0.05)


async def test_one_dotenv_configures_the_worker_and_the_environment_wins(
    tmp_path: Path, sim: SimServer
) -> None:
    receiver = Receiver()
    await receiver.start()
    dead = f"http://127.0.0.1:{free_port()}"
    (tmp_path / ".env").write_text(
        f"BITMART_API_KEY={KEY}\n"
        f"BITMART_API_SECRET='{SECRET}'\n"
        f'export BITMART_API_MEMO="{MEMO}"\n'
        f"BITMART_REST_URL={dead}  # overridden by the environment below\n"
        f"BITMART_WS_PUBLIC_URL={sim.ws_public_url}\n"
        f"BITMART_WS_PRIVATE_URL={sim.ws_private_url}\n"
        f"APP_BASE_URL={receiver.base_url}\n"
    )
    port = free_port()
    stderr = tmp_path / "stderr.txt"
    proc = subprocess.Popen(
        worker_args(port),
        cwd=tmp_path,
        env=child_env(BITMART_REST_URL=sim.base_url),
        stdout=subprocess.DEVNULL,
        stderr=stderr.open("wb"),
    )
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_ready(proc, url, stderr)
        order = {
            "id": "dotenv-order-1",
            "symbol": "BTCUSDT",
            "side": "long",
            "entry_zone_min": 65900,
            "entry_zone_max": 66100,  # the simulator starts at 66000: placed at once
            "quantity": 0.01,
            "leverage": 5,
            "stop_loss": 64000,
            "take_profit": 68000,
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(url + "/api/place-order", json=order) as reply,
        ):
            assert reply.status == 200, await reply.text()
        # Signed with the file's key, secret and memo (the simulator checks all three),
        # reported to the file's APP_BASE_URL.
        placed = await receiver.wait_for("dotenv-order-1", "placed", timeout=15)
        assert placed["exchange_order_id"]
    finally:
        proc.terminate()
        proc.wait(15)
        await receiver.stop()
    logs = stderr.read_text() + (tmp_path / "var" / "log" / "app.log").read_text()
    assert "dotenv-order-1" in logs  # the log is there, and says what happened
    for secret in (KEY, SECRET, MEMO):
        assert secret not in logs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"BITMART_API_KEY={KEY}\nBITMART_API_SECRET='{SECRET}\n", "line 2: BITMART_API_SECRET"),
        ("ZONEGUARD_CALLBACK_ALERT_AGE_S=soon\n", "ZONEGUARD_CALLBACK_ALERT_AGE_S (in .env)"),
    ],
)
def test_a_bad_dotenv_stops_the_worker_in_one_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    (tmp_path / ".env").write_text(text)
    done = subprocess.run(
        worker_args(free_port()),
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert expected in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert SECRET not in done.stderr
