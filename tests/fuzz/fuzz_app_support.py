"""The app under fuzzing: ``zoneguard sim``, ``zoneguard worker`` and ``zoneguard app`` as
real child processes on loopback, on the secure path (an API token for both APIs, a
callback secret), with a quick bus so a message the worker cannot take is parked within
seconds. A uniquely named module, not a conftest (``tests/fuzz`` is shared)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import requests

TOKEN = "fuzz-api-t0ken"
SECRET = "fuzz-callback-secret"
SIM_CREDENTIALS = {
    "BITMART_API_KEY": "fuzz-key",
    "BITMART_API_SECRET": "fuzz-secret",
    "BITMART_API_MEMO": "fuzz-memo",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class SignedCallbacks(requests.auth.AuthBase):
    """Signs every request body as the worker signs its callbacks, so fuzzed callbacks get
    past the signature to the parser behind it."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body or b""
        raw = body.encode() if isinstance(body, str) else bytes(body)  # type: ignore[arg-type]
        stamp = str(int(time.time() * 1000))
        digest = hmac.new(SECRET.encode(), stamp.encode() + b"." + raw, hashlib.sha256)
        r.headers["X-Zoneguard-Timestamp"] = stamp
        r.headers["X-Zoneguard-Signature"] = "sha256=" + digest.hexdigest()
        return r


class FuzzStack:
    """Sim, worker and app as child processes; :meth:`stop` ends them in reverse order."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.sim_url = f"http://127.0.0.1:{free_port()}"
        self.worker_url = f"http://127.0.0.1:{free_port()}"
        self.app_url = f"http://127.0.0.1:{free_port()}"
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def env(self) -> dict[str, str]:
        sim = self.sim_url.removeprefix("http://")
        return {
            **os.environ,
            **SIM_CREDENTIALS,
            "BITMART_REST_URL": self.sim_url,
            "BITMART_WS_PUBLIC_URL": f"ws://{sim}/api?protocol=1.1",
            "BITMART_WS_PRIVATE_URL": f"ws://{sim}/user?protocol=1.1",
            "WS_WORKER_BASE_URL": self.worker_url,
            "APP_BASE_URL": self.app_url,
            "ZONEGUARD_API_TOKEN": TOKEN,
            "ZONEGUARD_CALLBACK_SECRET": SECRET,
            "DATABASE_URL": f"sqlite:///{self.tmp / 'app.db'}",
            "ZONEGUARD_VAR_DIR": str(self.tmp / "app"),
            "MESSENGER_TRANSPORT_DSN": "db://",
            "BUS_MAX_ATTEMPTS": "2",
            "BUS_RETRY_BASE_S": "0.1",
            "BUS_POLL_INTERVAL_S": "0.2",
            "WS_WORKER_ATTEMPTS": "1",
            "WS_WORKER_TIMEOUT_S": "5",
        }

    def _spawn(self, name: str, *args: str) -> None:
        with self.log(name).open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "zoneguard.cli", *args],
                env=self.env(),
                cwd=self.tmp,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.children.append((name, proc))

    def _wait(self, name: str, url: str, within_s: float = 40.0) -> None:
        proc = dict(self.children)[name]
        deadline = time.monotonic() + within_s
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as reply:
                    if reply.status == 200 and json.loads(reply.read()).get("ready", True):
                        return
            except (OSError, ValueError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log(name).read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} did not start:\n{tail}")
            time.sleep(0.05)

    def start(self) -> None:
        sim_port = self.sim_url.rsplit(":", 1)[1]
        prices = ["--price", "BTCUSDT=66000", "--price", "ETHUSDT=3000"]
        self._spawn("sim", "sim", "--port", sim_port, *prices, "--no-rate-limits")
        self._wait("sim", f"{self.sim_url}/_sim/health")
        worker_port = self.worker_url.rsplit(":", 1)[1]
        var = str(self.tmp / "worker")
        self._spawn("worker", "worker", "--port", worker_port, "--var-dir", var)
        self._wait("worker", f"{self.worker_url}/health")
        self._spawn("app", "app", "--port", self.app_url.rsplit(":", 1)[1])
        self._wait("app", f"{self.app_url}/health")

    def stop(self) -> None:
        for _name, proc in reversed(self.children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self.children.clear()

    def get(self, path: str) -> Any:
        request = urllib.request.Request(self.app_url + path, headers=self.auth)
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.loads(reply.read())


def app_document() -> dict[str, Any]:
    """The OpenAPI document of the app as :class:`FuzzStack` runs it (with a token and a
    callback secret), built without serving it."""
    from zoneguard.app.api.app import create_app
    from zoneguard.app.runtime import AppRuntime
    from zoneguard.app.settings import AppSettings

    settings = AppSettings(database_url="sqlite://", api_token=TOKEN, callback_secret=SECRET)
    runtime = AppRuntime(settings, consume=False)
    try:
        return create_app(runtime).openapi()
    finally:
        runtime.db.dispose()
