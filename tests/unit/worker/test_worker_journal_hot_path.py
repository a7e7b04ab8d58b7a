"""The journal's hot-path forms: facts replaced without a read, the seq check folded into
the update, and checkpoints moved to a background thread."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from zoneguard.worker.journal import (
    SAFETY_NET_CHECKPOINT_PAGES,
    Journal,
    OutboxItem,
    SequenceError,
    UnknownOrder,
    hash_payload,
)


def event(order_id: str, seq: int, to_state: str) -> dict[str, Any]:
    return {"order_id": order_id, "seq": seq, "to_state": to_state, "at_ms": 1_000 + seq}


def add(journal: Journal, order_id: str, data: dict[str, Any] | None = None) -> None:
    payload = {"id": order_id}
    journal.add_order(
        order_id,
        "BTCUSDT",
        payload,
        hash_payload(payload),
        "waiting_zone",
        1_000,
        event(order_id, 1, "waiting_zone"),
        data=data or {"zone_low": "65000", "entry_attempt": 0},
    )


@pytest.fixture
def journal(tmp_path: Path) -> Any:
    opened = Journal.open(tmp_path / "journal.sqlite3")
    yield opened
    opened.close()


def test_record_with_data_replaces_the_facts_whole(journal: Journal) -> None:
    add(journal, "o1", {"zone_low": "65000", "gone": True})
    journal.record(
        "o1",
        event("o1", 2, "placing"),
        state="placing",
        data={"zone_low": "65000", "entry_attempt": 1, "price": Decimal("65400.5")},
    )
    stored = journal.get_order("o1")
    assert stored is not None
    assert stored.state == "placing" and stored.last_seq == 2
    assert stored.data == {"zone_low": "65000", "entry_attempt": 1, "price": Decimal("65400.5")}
    assert [e["seq"] for e in journal.events("o1")] == [1, 2]


def test_record_without_data_keeps_the_facts(journal: Journal) -> None:
    add(journal, "o1", {"kept": "yes"})
    journal.record("o1", event("o1", 2, "placing"), state="placing")
    stored = journal.get_order("o1")
    assert stored is not None and stored.data == {"kept": "yes"}


def test_record_takes_a_merge_or_a_replacement_not_both(journal: Journal) -> None:
    add(journal, "o1")
    with pytest.raises(ValueError, match="not both"):
        journal.record("o1", event("o1", 2, "x"), state="x", data={}, data_updates={"a": 1})


@pytest.mark.parametrize("form", ["replace", "merge", "none"])
def test_seq_gaps_replays_and_unknown_orders_are_refused_in_every_form(
    journal: Journal, form: str
) -> None:
    add(journal, "o1")
    facts: dict[str, Any] = {
        "replace": {"data": {"x": 1}},
        "merge": {"data_updates": {"x": 1}},
        "none": {},
    }[form]
    callback = OutboxItem("ev-1", "o1", "http://127.0.0.1:9/cb", {"status": "placed"}, 1)
    for seq in (1, 3):  # a replay, a gap
        with pytest.raises(SequenceError):
            journal.record("o1", event("o1", seq, "x"), state="x", callbacks=[callback], **facts)
    with pytest.raises(UnknownOrder):
        journal.record("nope", event("nope", 2, "x"), state="x", **facts)
    stored = journal.get_order("o1")
    assert stored is not None
    assert (stored.state, stored.last_seq) == ("waiting_zone", 1)  # nothing written
    assert stored.data == {"zone_low": "65000", "entry_attempt": 0}
    assert journal.callback("ev-1") is None
    assert [e["seq"] for e in journal.events("o1")] == [1]


def test_replace_data_sets_the_facts_and_refuses_an_unknown_order(journal: Journal) -> None:
    add(journal, "o1")
    journal.replace_data("o1", {"entry_order_id": "42"}, at_ms=5_000)
    stored = journal.get_order("o1")
    assert stored is not None
    assert stored.data == {"entry_order_id": "42"}
    assert stored.updated_ms == 5_000
    with pytest.raises(UnknownOrder):
        journal.replace_data("nope", {})


def test_background_checkpoints_copy_the_wal_while_commits_never_do(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal.open(path, checkpoint_interval_s=3600)  # the thread waits: no checkpoint
    try:
        autocheckpoint = journal._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        assert autocheckpoint == SAFETY_NET_CHECKPOINT_PAGES  # commits only as a safety net
        before = path.stat().st_size
        for number in range(600):  # ~2.4 MB of pages, past SQLite's default 1000-page trigger
            add(journal, f"o{number}", {"blob": "x" * 4000})
        assert path.stat().st_size == before, "a commit checkpointed"
        assert journal.checkpoints_done == 0
    finally:
        journal.close()

    journal = Journal.open(path, checkpoint_interval_s=0.05)
    try:
        before = path.stat().st_size
        for number in range(600, 900):
            add(journal, f"o{number}", {"blob": "y" * 4000})
        # The checkpoint running now (if any) ends as +1; the next one starts after the commits.
        wanted = journal.checkpoints_done + 2
        deadline = time.monotonic() + 30  # bounds a hang: the thread competes for the CPU
        while journal.checkpoints_done < wanted and time.monotonic() < deadline:
            time.sleep(0.01)
        assert journal.checkpoints_done >= wanted
        assert path.stat().st_size >= before + 1_000_000, "the thread did not checkpoint"
        stored = journal.get_order("o899")
        assert stored is not None and stored.data == {"blob": "y" * 4000}
    finally:
        journal.close()


def test_without_background_checkpoints_no_thread_runs(journal: Journal) -> None:
    assert journal.checkpoints_done == 0
    assert journal._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000


def test_a_bad_checkpoint_interval_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        Journal.open(tmp_path / "j.sqlite3", checkpoint_interval_s=0)
