"""Crash safety: a worker process SIGKILLed right after ``record`` returns loses nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from zoneguard.worker.journal import Journal

CHILD_PRELUDE = textwrap.dedent(
    """
    import os, signal, sys
    from decimal import Decimal
    from pathlib import Path
    from zoneguard.worker.journal import Journal, OutboxItem, hash_payload

    journal = Journal.open(Path(sys.argv[1]))
    payload = {"id": "o1", "symbol": "BTCUSDT", "stop_loss": Decimal("64000.5")}
    journal.add_order("o1", "BTCUSDT", payload, hash_payload(payload), "waiting", 1,
                      {"order_id": "o1", "seq": 1, "at_ms": 1, "to_state": "waiting"})

    def step(seq):
        journal.record(
            "o1",
            {"order_id": "o1", "seq": seq, "at_ms": seq, "to_state": f"s{seq}"},
            state=f"s{seq}",
            data_updates={"last": seq},
            callbacks=[OutboxItem(f"ev-{seq}", "o1", "http://127.0.0.1:9/cb", {"seq": seq}, seq)],
        )
    """
)


def run_child(script: str, journal_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD_PRELUDE + textwrap.dedent(script), str(journal_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def assert_contiguous_history(journal: Journal, last_seq: int) -> None:
    stored = journal.get_order("o1")
    assert stored is not None
    assert stored.last_seq == last_seq
    assert stored.state == (f"s{last_seq}" if last_seq > 1 else "waiting")
    assert [e["seq"] for e in journal.events("o1")] == list(range(1, last_seq + 1))
    assert journal.pending_count() == last_seq - 1
    if last_seq > 1:
        assert stored.data == {"last": last_seq}
        assert journal.callback(f"ev-{last_seq}") is not None


def test_a_sigkill_right_after_record_returns_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "var" / "journal.sqlite3"
    child = run_child(
        """
        for seq in range(2, 42):
            step(seq)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        path,
    )
    _, stderr = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, stderr
    with Journal.open(path) as journal:  # the dead holder's lock is gone too
        assert_contiguous_history(journal, last_seq=41)
        stored = journal.get_order("o1")
        assert stored is not None
        assert str(stored.payload["stop_loss"]) == "64000.5"


def test_a_sigkill_at_an_arbitrary_moment_leaves_a_whole_prefix(tmp_path: Path) -> None:
    """Killed from outside mid-stream: every record the child reported is there, and
    what is there is a gap-free prefix with its callbacks (never half a transition)."""
    path = tmp_path / "journal.sqlite3"
    child = run_child(
        """
        seq = 1
        while True:
            seq += 1
            step(seq)
            print(seq, flush=True)
        """,
        path,
    )
    assert child.stdout is not None
    reported = 0
    for line in child.stdout:
        reported = int(line)
        if reported >= 200:
            break
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    with Journal.open(path) as journal:
        stored = journal.get_order("o1")
        assert stored is not None
        assert stored.last_seq >= reported
        assert_contiguous_history(journal, last_seq=stored.last_seq)
