"""`zoneguard app` (the real CLI, a child process) checks at start that APP_BASE_URL, the
callback address it hands the worker, reaches this very app: a dead port, or another app,
is a WARNING naming APP_BASE_URL and the address; its own address logs no such thing. The
check runs once the server listens and never holds the start-up back."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from app_harness import AppStarter, free_port, sqlite_url

NAMES = ("APP_BASE_URL", "WS_WORKER_BASE_URL", "DATABASE_URL", "ZONEGUARD_VAR_DIR")
CHECKED = "APP_BASE_URL reaches this app"
ASTRAY = "APP_BASE_URL is "


class AppProcess:
    def __init__(self, tmp_path: Path, app_base_url: str, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.stderr = tmp_path / "app-stderr.txt"
        env = {k: v for k, v in os.environ.items() if k not in NAMES}
        env.update(
            APP_BASE_URL=app_base_url,
            DATABASE_URL=sqlite_url(tmp_path),
            ZONEGUARD_VAR_DIR=str(tmp_path / "var"),
            WS_WORKER_BASE_URL=f"http://127.0.0.1:{free_port()}",
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zoneguard.cli", "app", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.stderr.open("wb"),
        )

    def log(self) -> str:
        return self.stderr.read_text()

    async def wait_log(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while text not in (log := self.log()):
            assert self.proc.poll() is None, f"the app exited: {log[-2000:]}"
            assert time.monotonic() < deadline, f"no {text!r} in: {log[-2000:]}"
            await asyncio.sleep(0.05)
        return log

    async def health(self) -> dict[str, object]:
        async with aiohttp.ClientSession() as session, session.get(self.url + "/health") as reply:
            assert reply.status == 200
            body: dict[str, object] = await reply.json()
            return body

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)


Launch = Callable[[str | None, int], AppProcess]


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """``launch(APP_BASE_URL or None for its own address, port)``; stopped at the end."""
    started: list[AppProcess] = []

    def start(app_base_url: str | None, port: int) -> AppProcess:
        app = AppProcess(tmp_path, app_base_url or f"http://127.0.0.1:{port}", port)
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()


def warning_line(log: str) -> str:
    (line,) = [line for line in log.splitlines() if ASTRAY in line]
    return line


async def test_a_dead_callback_address_is_a_warning_naming_app_base_url(launch: Launch) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    app = launch(dead, free_port())
    line = warning_line(await app.wait_log(ASTRAY))
    assert " WARNING " in line
    assert f"APP_BASE_URL is {dead}, but nothing answers at {dead}/health" in line
    assert f"{dead}/api/orders/callback" in line
    assert (await app.health())["status"] == "ok"  # serving all the same


async def test_another_app_at_the_address_is_a_warning(
    launch: Launch, start_app: AppStarter, tmp_path: Path
) -> None:
    (tmp_path / "other").mkdir()
    other = await start_app(sqlite_url(tmp_path / "other"), consume=False)
    app = launch(other.http.base_url, free_port())
    line = warning_line(await app.wait_log(ASTRAY))
    assert "is another Zoneguard app, not this one" in line


async def test_its_own_address_logs_no_warning(launch: Launch) -> None:
    app = launch(None, free_port())
    log = await app.wait_log(CHECKED)
    assert ASTRAY not in log
    health = await app.health()
    assert isinstance(health["instance"], str) and len(health["instance"]) == 32
