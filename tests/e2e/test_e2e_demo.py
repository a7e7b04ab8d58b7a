"""`zoneguard demo` end to end: sim, worker and app as real processes, five real-price signals
(a take-profit ladder that moves to break-even, and a long entered in two zones)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_the_demo_carries_every_signal_to_its_expected_close(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "zoneguard.cli", "demo", "--step-ms", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert out.count("closed ") >= 5, out[-3000:]
    assert "take_profit" in out
    assert "stop_loss" in out
    assert "TP1 hit" in out and "(break_even)" in out, out[-3000:]
    assert "zone 2     entered" in out and "zone 2 filled" in out, out[-3000:]
    assert "dashboard: http://127.0.0.1:" in out
    # The app kept the lifecycle in its own SQLite database under the demo's var/.
    assert (tmp_path / "var" / "demo" / "app" / "app.db").is_file()
    assert (tmp_path / "var" / "demo" / "worker" / "log" / "app.log").is_file()


@pytest.mark.slow
def test_the_demo_runs_the_secure_path_and_keep_prints_the_token(tmp_path: Path) -> None:
    """Each run has its own token and callback secret: the app and the worker refuse calls
    without the token, callbacks arrive signed, and ``--keep`` prints the token a person
    needs to open the dashboard."""
    import json
    import os
    import re
    import signal
    import urllib.error
    import urllib.request

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("ZONEGUARD_API_TOKEN", "ZONEGUARD_CALLBACK_SECRET"):
        env.pop(name, None)
    demo = subprocess.Popen(
        [sys.executable, "-m", "zoneguard.cli", "demo", "--step-ms", "1", "--keep"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        assert demo.stdout is not None
        token = app_url = worker_url = None
        for line in demo.stdout:  # ends when the demo exits; --keep waits for Ctrl-C
            seen.append(line)
            if found := re.search(r"worker\s+control API on (http://127\.0\.0\.1:\d+)", line):
                worker_url = found.group(1)
            if found := re.search(r"dashboard: (http://127\.0\.0\.1:\d+)/", line):
                app_url = found.group(1)
            if found := re.search(r"token \(ZONEGUARD_API_TOKEN\)[^:]*: (\S+)$", line.rstrip()):
                token = found.group(1)
                break
        assert token and app_url and worker_url, "".join(seen)[-3000:]
        assert len(token) >= 24

        def status(url: str, with_token: bool) -> int:
            headers = {"Authorization": f"Bearer {token}"} if with_token else {}
            try:
                with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as r:
                    return int(r.status)
            except urllib.error.HTTPError as exc:
                return exc.code

        for url in (f"{app_url}/api/orders", f"{worker_url}/status"):
            assert status(url, with_token=False) == 401, url
            assert status(url, with_token=True) == 200, url
        with urllib.request.urlopen(
            urllib.request.Request(
                f"{app_url}/api/orders", headers={"Authorization": f"Bearer {token}"}
            )
        ) as reply:
            orders = json.loads(reply.read())["orders"]
        assert len(orders) == 5 and {o["status"] for o in orders} == {"closed"}, orders
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait(5)
    app_log = (tmp_path / "var" / "demo" / "app.log").read_text(errors="replace")
    assert "ZONEGUARD_CALLBACK_SECRET is not set" not in app_log
    assert "callback refused" not in app_log
