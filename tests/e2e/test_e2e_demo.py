"""`zoneguard demo` end to end: sim, worker and app as real processes, three real-price signals."""

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
    assert out.count("closed ") >= 3, out[-3000:]
    assert "take_profit" in out
    assert "stop_loss" in out
    assert "dashboard: http://127.0.0.1:" in out
    # The app kept the lifecycle in its own SQLite database under the demo's var/.
    assert (tmp_path / "var" / "demo" / "app" / "app.db").is_file()
    assert (tmp_path / "var" / "demo" / "worker" / "log" / "app.log").is_file()
