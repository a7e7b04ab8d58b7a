"""Run inside a network namespace of the test's own (``unshare -n``) where 198.18.0.1 is an
address of lo: starts ``zoneguard app`` on every address with a token and no callback
secret, sends the same unsigned callback from 198.18.0.1 and from 127.0.0.1, and prints
what each got as one JSON line. Usage: ``netns_probe.py TMP_DIR``."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

OUTSIDE = "198.18.0.1"
TOKEN = "netns-t0ken"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        port: int = sock.getsockname()[1]
        return port


def request(
    source: str, port: int, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    """One request to the app at ``source``, sent from ``source``: the peer the app sees."""
    conn = http.client.HTTPConnection(source, port, timeout=10, source_address=(source, 0))
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, None if body is None else json.dumps(body), headers)
        reply = conn.getresponse()
        raw = reply.read()
    finally:
        conn.close()
    return reply.status, json.loads(raw) if raw else None


def main(tmp: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'netns.db'}",
        "ZONEGUARD_VAR_DIR": str(tmp / "netns-var"),
        "ZONEGUARD_API_TOKEN": TOKEN,
    }
    env.pop("ZONEGUARD_CALLBACK_SECRET", None)
    app = subprocess.Popen(
        [sys.executable, "-m", "zoneguard.app", "app", "--host", "0.0.0.0", "--port", str(port)],
        env=env,
        stdout=sys.stderr,
        stderr=sys.stderr,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if request("127.0.0.1", port, "GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            if app.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the app did not start")
            time.sleep(0.05)
        callback = {"order_id": "order-unknown", "status": "placed", "event_id": "netns-1"}
        seen: dict[str, Any] = {}
        for source in (OUTSIDE, "127.0.0.1"):
            status, body = request(source, port, "POST", "/api/orders/callback", callback)
            seen[source] = {"status": status, "body": body}
        signal_body = {"symbol": "BTCUSDT", "side": "long"}
        seen["signals_without_token"] = request(OUTSIDE, port, "POST", "/api/signals", signal_body)[
            0
        ]
        seen["orders_with_token"] = request(OUTSIDE, port, "GET", "/api/orders", token=TOKEN)[0]
        print(json.dumps(seen))
    finally:
        app.send_signal(signal.SIGTERM)
        app.wait(15)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
