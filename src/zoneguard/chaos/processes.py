"""``zoneguard`` sub-commands as child processes: started, SIGKILLed, started again.

Each child runs in its own session (a Ctrl-C at the terminal reaches the harness, which
stops them in order) and writes its output to a log file of its own, appended to across
restarts so a finding can be read in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp

READY_TIMEOUT_S = 60.0
"""A child that is not ready by then is a finding (two cores shared with other work can
make a start slow, never this slow)."""


class ProcessFailed(Exception):
    """A child exited or never became ready; ``str()`` ends with its log's tail."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Child:
    def __init__(self, name: str, args: Sequence[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.args = list(args)
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        with self.log.open("ab") as out:
            out.write(f"--- {self.name} started at {time.strftime('%H:%M:%S')}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "zoneguard.cli", *self.args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> bool:
        """SIGKILL; True when the process was alive."""
        if self.proc is None or self.proc.poll() is not None:
            return False
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        with self.log.open("ab") as out:
            out.write(f"--- {self.name} SIGKILLed at {time.strftime('%H:%M:%S')}\n".encode())
        return True

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def tail(self, chars: int = 1500) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    async def wait_ready(
        self, session: aiohttp.ClientSession, url: str, within_s: float = READY_TIMEOUT_S
    ) -> None:
        """Until ``url`` answers 200 (and ``"ready": true`` when the body says); raises
        :class:`ProcessFailed` when the child exits or the time is up."""
        deadline = time.monotonic() + within_s
        while True:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise ProcessFailed(f"{self.name} exited ({code}):\n{self.tail()}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as reply:
                    if reply.status == 200:
                        body = await reply.json(content_type=None)
                        if not isinstance(body, dict) or body.get("ready", True):
                            return
            if time.monotonic() > deadline:
                raise ProcessFailed(f"{self.name} not ready within {within_s:.0f}s:\n{self.tail()}")
            await asyncio.sleep(0.05)


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without the variables that would point a child
    elsewhere (a developer's shell may export them), plus ``extra``."""
    strip = ("BITMART_", "ZONEGUARD_", "WS_WORKER_", "APP_BASE_URL", "DATABASE_URL", "BUS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(strip)}
    env.pop("MESSENGER_TRANSPORT_DSN", None)
    env.update(extra)
    return env
