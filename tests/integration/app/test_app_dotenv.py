"""`zoneguard app` and `zoneguard signal` configured by the `.env` of their working directory
(the real CLI as child processes): WS_WORKER_BASE_URL, APP_BASE_URL and DATABASE_URL from the
file, the environment winning over it, and a malformed file refused in one line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
from app_harness import FakeWorker, eventually, free_port

SECRET = "callback-secret-from-dotenv-61f0"
NAMES = (
    "DATABASE_URL",
    "MESSENGER_TRANSPORT_DSN",
    "WS_WORKER_BASE_URL",
    "APP_BASE_URL",
    "ZONEGUARD_VAR_DIR",
    "ZONEGUARD_CALLBACK_SECRET",
    "ZONEGUARD_API_TOKEN",
)


def child_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NAMES}
    env.update(values)
    return env


def zoneguard(*args: str) -> list[str]:
    return [sys.executable, "-m", "zoneguard.cli", *args]


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        zoneguard(*args),
        cwd=cwd,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def wait_health(proc: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while proc.poll() is None:
            try:
                async with session.get(url + "/health") as reply:
                    if reply.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            assert time.monotonic() < deadline, "the app did not start"
            await asyncio.sleep(0.05)
    raise AssertionError(f"the app exited with {proc.returncode}")


async def test_the_app_and_the_signal_command_read_dotenv(
    tmp_path: Path, fake_worker: FakeWorker
) -> None:
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    (tmp_path / ".env").write_text(
        f"DATABASE_URL=sqlite:///{tmp_path / 'app.db'}\n"
        f"ZONEGUARD_VAR_DIR={tmp_path / 'var'}\n"
        f"WS_WORKER_BASE_URL={fake_worker.url}\n"
        f"APP_BASE_URL={app_url}\n"
        f"ZONEGUARD_CALLBACK_SECRET={SECRET}\n"
    )
    app = subprocess.Popen(
        zoneguard("app", "--port", str(port)),
        cwd=tmp_path,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "app-stderr.txt").open("wb"),
    )
    try:
        await wait_health(app, app_url)
        # No --app-url: the command finds the app through the same .env.
        signal = await asyncio.to_thread(
            run,
            tmp_path,
            *("signal", "--symbol", "BTCUSDT", "--side", "long", "--zone", "65000,65500"),
            *("--quantity", "0.01", "--sl", "64000", "--tp", "68000"),
        )
        assert signal.returncode == 0, signal.stderr
        order_id = signal.stdout.strip()
        await eventually(lambda: fake_worker.bodies("/api/place-order"), 15, "place-order")
        (payload,) = fake_worker.bodies("/api/place-order")
        assert payload["id"] == order_id
        assert payload["callback_url"] == f"{app_url}/api/orders/callback"
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                app_url + "/api/orders/callback", json={"order_id": order_id, "status": "placed"}
            ) as reply,
        ):
            assert reply.status == 401  # the file's ZONEGUARD_CALLBACK_SECRET is in force
    finally:
        app.terminate()
        await asyncio.to_thread(app.wait, 15)
    assert SECRET not in (tmp_path / "app-stderr.txt").read_text()
    assert SECRET not in (tmp_path / "var" / "log" / "orders.log").read_text()


def test_the_environment_wins_over_dotenv(tmp_path: Path) -> None:
    in_file, in_env = tmp_path / "file.db", tmp_path / "env.db"
    (tmp_path / ".env").write_text(f"DATABASE_URL=sqlite:///{in_file}\n")
    done = run(tmp_path, "app", "migrate")
    assert done.returncode == 0, done.stderr
    assert in_file.exists()
    in_file.unlink()
    done = run(tmp_path, "app", "migrate", DATABASE_URL=f"sqlite:///{in_env}")
    assert done.returncode == 0, done.stderr
    assert in_env.exists()
    assert not in_file.exists()


def test_a_bad_dotenv_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"APP_BASE_URL=http://127.0.0.1:8080\nZONEGUARD_API_TOKEN='{SECRET}\n")
    for args in (("app", "migrate"), ("signal", "--symbol", "X", "--side", "long")):
        more = ("--zone", "1", "2", "--quantity", "1") if args[0] == "signal" else ()
        done = run(tmp_path, *args, *more)
        assert done.returncode == 1, done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
        assert ".env line 2: ZONEGUARD_API_TOKEN" in done.stderr
        assert SECRET not in done.stderr
    env_file.write_text("WS_WORKER_BASE_URL=127.0.0.1:8089\n")
    done = run(tmp_path, "app", "migrate")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "zoneguard: error: environment: WS_WORKER_BASE_URL (in .env): "
        "must start with http:// or https://"
    )
