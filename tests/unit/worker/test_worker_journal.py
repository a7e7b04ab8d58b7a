"""The journal on real SQLite files: ordering, refusals, atomicity, the outbox queries."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from zoneguard.worker import journal as journal_module
from zoneguard.worker.journal import (
    MIGRATIONS,
    DuplicateCallback,
    DuplicateOrder,
    Journal,
    JournalError,
    JournalLocked,
    OutboxItem,
    SequenceError,
    UnknownOrder,
    hash_payload,
)

TERMINAL = {"closed", "failed", "timeout"}


def event(
    order_id: str, seq: int, to_state: str, at_ms: int = 1_000, **data: Any
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "seq": seq,
        "from_state": None,
        "to_state": to_state,
        "at_ms": at_ms,
        "reason": None,
        "data": data,
    }


def callback(order_id: str, event_id: str, created_ms: int = 1_000, **body: Any) -> OutboxItem:
    return OutboxItem(
        event_id=event_id,
        order_id=order_id,
        url="http://127.0.0.1:9/api/orders/callback",
        body={"order_id": order_id, "status": "placed", **body},
        created_ms=created_ms,
    )


def add(journal: Journal, order_id: str, at_ms: int = 1_000, symbol: str = "BTCUSDT") -> None:
    payload = {"id": order_id, "symbol": symbol, "entry_zone_min": Decimal("65000.5")}
    journal.add_order(
        order_id,
        symbol,
        payload,
        hash_payload(payload),
        "waiting",
        at_ms,
        event(order_id, 1, "waiting", at_ms),
    )


@pytest.fixture
def journal(tmp_path: Path) -> Any:
    opened = Journal.open(tmp_path / "var" / "journal.sqlite3")
    yield opened
    opened.close()


def test_open_creates_directories_wal_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "var" / "journal.sqlite3"
    with Journal.open(path) as journal:
        assert journal.schema_version == len(MIGRATIONS)
    assert path.exists()
    probe = sqlite3.connect(path)
    try:
        assert probe.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in probe.execute("SELECT name FROM sqlite_master")}
    finally:
        probe.close()
    assert {"orders", "events", "outbox", "schema_version"} <= tables


def test_order_round_trip_keeps_decimals_exact(journal: Journal) -> None:
    payload = {"id": "o1", "quantity": Decimal("0.00012345678901234567890"), "leverage": 10}
    journal.add_order(
        "o1", "BTCUSDT", payload, hash_payload(payload), "waiting", 5, event("o1", 1, "waiting", 5)
    )
    stored = journal.get_order("o1")
    assert stored is not None
    assert stored.payload == payload
    assert isinstance(stored.payload["quantity"], Decimal)
    assert stored.payload["quantity"] == Decimal("0.00012345678901234567890")
    assert (stored.state, stored.created_ms, stored.updated_ms, stored.last_seq) == (
        "waiting",
        5,
        5,
        1,
    )
    assert stored.payload_hash == hash_payload(payload)
    assert journal.get_order("missing") is None


def test_payload_hash_ignores_key_order_but_not_values() -> None:
    a = {"id": "x", "stop_loss": Decimal("64000"), "take_profit": Decimal("68000")}
    b = {"take_profit": Decimal("68000"), "id": "x", "stop_loss": Decimal("64000")}
    assert hash_payload(a) == hash_payload(b)
    assert hash_payload(a) != hash_payload({**a, "stop_loss": Decimal("64001")})


def test_duplicate_order_is_refused_and_leaves_the_first(journal: Journal) -> None:
    add(journal, "o1", at_ms=10)
    with pytest.raises(DuplicateOrder):
        journal.add_order("o1", "ETHUSDT", {}, "h", "waiting", 20, event("o1", 1, "waiting", 20))
    stored = journal.get_order("o1")
    assert stored is not None
    assert stored.symbol == "BTCUSDT"
    assert stored.created_ms == 10
    assert len(journal.events("o1")) == 1


def test_record_appends_event_sets_state_and_merges_data(journal: Journal) -> None:
    add(journal, "o1")
    journal.record(
        "o1",
        event("o1", 2, "placing", 2_000),
        state="placing",
        data_updates={"client_order_id": "zg-o1-1"},
    )
    journal.record(
        "o1",
        event("o1", 3, "placed", 3_000),
        state="placed",
        data_updates={"exchange_order_id": "987654321", "entry_price": Decimal("65250.10")},
    )
    stored = journal.get_order("o1")
    assert stored is not None
    assert stored.state == "placed"
    assert stored.updated_ms == 3_000
    assert stored.last_seq == 3
    assert stored.data == {
        "client_order_id": "zg-o1-1",
        "exchange_order_id": "987654321",
        "entry_price": Decimal("65250.10"),
    }
    assert [e["seq"] for e in journal.events("o1")] == [1, 2, 3]
    assert [e["to_state"] for e in journal.events("o1")] == ["waiting", "placing", "placed"]


@pytest.mark.parametrize("bad_seq", [1, 3, 0])
def test_a_gap_or_a_replayed_seq_is_refused_and_nothing_changes(
    journal: Journal, bad_seq: int
) -> None:
    add(journal, "o1")
    with pytest.raises(SequenceError):
        journal.record(
            "o1",
            event("o1", bad_seq, "placing"),
            state="placing",
            data_updates={"x": 1},
            callbacks=[callback("o1", "ev-1")],
        )
    stored = journal.get_order("o1")
    assert stored is not None
    assert stored.state == "waiting"
    assert stored.data == {}
    assert len(journal.events("o1")) == 1
    assert journal.pending_count() == 0


def test_unknown_order_and_mismatched_event_are_refused(journal: Journal) -> None:
    with pytest.raises(UnknownOrder):
        journal.record("ghost", event("ghost", 2, "placed"), state="placed")
    add(journal, "o1")
    with pytest.raises(ValueError, match="o2"):
        journal.record("o1", event("o2", 2, "placed"), state="placed")
    with pytest.raises(ValueError, match="seq"):
        journal.record("o1", {"at_ms": 1, "seq": "2"}, state="placed")
    with pytest.raises(ValueError, match="callback"):
        journal.record(
            "o1", event("o1", 2, "placed"), state="placed", callbacks=[callback("o2", "e")]
        )
    stored = journal.get_order("o1")
    assert stored is not None
    assert stored.last_seq == 1


def test_a_failing_callback_insert_rolls_back_the_transition(journal: Journal) -> None:
    add(journal, "o1")
    journal.record(
        "o1", event("o1", 2, "placing"), state="placing", callbacks=[callback("o1", "ev-1")]
    )
    with pytest.raises(DuplicateCallback):
        journal.record(
            "o1",
            event("o1", 3, "placed"),
            state="placed",
            data_updates={"exchange_order_id": "1"},
            callbacks=[callback("o1", "ev-2"), callback("o1", "ev-1")],  # second one clashes
        )
    stored = journal.get_order("o1")
    assert stored is not None
    assert (stored.state, stored.last_seq, stored.data) == ("placing", 2, {})
    assert [e["seq"] for e in journal.events("o1")] == [1, 2]
    assert journal.callback("ev-2") is None  # the batch's first insert went too
    assert journal.pending_count() == 1
    # and the journal is still usable: the same transition goes through once corrected
    journal.record(
        "o1", event("o1", 3, "placed"), state="placed", callbacks=[callback("o1", "ev-2")]
    )
    assert journal.pending_count() == 2


def test_open_orders_excludes_the_terminal_states_given(journal: Journal) -> None:
    for i, state in enumerate(["placed", "closed", "guarding", "failed"]):
        add(journal, f"o{i}", at_ms=100 + i)
        journal.record(f"o{i}", event(f"o{i}", 2, state, 200 + i), state=state)
    assert [o.order_id for o in journal.open_orders(TERMINAL)] == ["o0", "o2"]
    assert [o.order_id for o in journal.open_orders(set())] == ["o0", "o1", "o2", "o3"]
    assert [o.order_id for o in journal.orders(limit=2)] == ["o3", "o2"]
    assert [o.order_id for o in journal.orders(states={"closed", "failed"})] == ["o3", "o1"]
    assert journal.orders(states=set()) == []


def test_due_callbacks_give_each_orders_head_only_oldest_first(journal: Journal) -> None:
    add(journal, "a")
    add(journal, "b")
    journal.record(
        "a",
        event("a", 2, "placed"),
        state="placed",
        callbacks=[callback("a", "a1", 10), callback("a", "a2", 11)],
    )
    journal.record("b", event("b", 2, "placed"), state="placed", callbacks=[callback("b", "b1", 5)])
    journal.record(
        "a", event("a", 3, "closed"), state="closed", callbacks=[callback("a", "a3", 12)]
    )

    assert [i.event_id for i in journal.due_callbacks(now_ms=100, limit=10)] == ["b1", "a1"]
    assert [i.event_id for i in journal.due_callbacks(now_ms=100, limit=1)] == ["b1"]
    assert journal.oldest_undelivered_ms() == 5
    assert journal.pending_count() == 4

    journal.mark_failed("a1", "HTTP 500", next_attempt_ms=500)
    assert [i.event_id for i in journal.due_callbacks(now_ms=100, limit=10)] == ["b1"]
    assert journal.next_due_ms() == 0
    assert journal.next_due_ms(exclude_order_ids={"b"}) == 500
    retry = journal.due_callbacks(now_ms=500, limit=10)
    a1 = next(i for i in retry if i.event_id == "a1")
    assert (a1.attempts, a1.last_error, a1.next_attempt_ms) == (1, "HTTP 500", 500)

    journal.mark_delivered("a1", at_ms=600)
    journal.mark_delivered("b1", at_ms=600)
    assert [i.event_id for i in journal.due_callbacks(now_ms=600, limit=10)] == ["a2"]
    assert journal.oldest_undelivered_ms() == 11
    found = journal.callback("a1")
    assert found is not None
    assert found[1] == 600
    assert found[0].attempts == 2
    journal.mark_delivered("a2", at_ms=700)
    assert [i.event_id for i in journal.due_callbacks(now_ms=700, limit=10)] == ["a3"]
    journal.mark_delivered("a3", at_ms=800)
    assert journal.due_callbacks(now_ms=10_000, limit=10) == []
    assert journal.oldest_undelivered_ms() is None
    assert journal.next_due_ms() is None
    assert journal.pending_count() == 0
    assert journal.purge_delivered(before_ms=750) == 3
    assert journal.callback("a3") is not None


def test_callback_bodies_keep_exact_numbers(journal: Journal) -> None:
    add(journal, "o1")
    journal.record(
        "o1",
        event("o1", 2, "placed"),
        state="placed",
        callbacks=[callback("o1", "e", entry_price=Decimal("65250.10"), quantity=Decimal("0.01"))],
    )
    (item,) = journal.due_callbacks(now_ms=10**13, limit=5)
    assert item.body["entry_price"] == Decimal("65250.10")
    assert str(item.body["entry_price"]) == "65250.10"


def test_everything_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal.open(path) as first:
        add(first, "o1")
        first.record(
            "o1", event("o1", 2, "placed"), state="placed", callbacks=[callback("o1", "e")]
        )
    with Journal.open(path) as second:
        stored = second.get_order("o1")
        assert stored is not None
        assert stored.state == "placed"
        assert stored.last_seq == 2
        assert [i.event_id for i in second.due_callbacks(10**13, 10)] == ["e"]
        second.record("o1", event("o1", 3, "closed"), state="closed")


def test_a_second_process_cannot_open_a_journal_in_use(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    first = Journal.open(path)
    try:
        with pytest.raises(JournalLocked):
            Journal.open(path)
    finally:
        first.close()
    Journal.open(path).close()  # released on close


def test_new_migrations_are_applied_once_and_newer_files_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal.open(path) as journal:
        add(journal, "o1")
    step = "ALTER TABLE orders ADD COLUMN note TEXT; UPDATE orders SET note = 'migrated';"
    monkeypatch.setattr(journal_module, "MIGRATIONS", [*MIGRATIONS, step])
    with Journal.open(path) as journal:
        assert journal.schema_version == len(MIGRATIONS) + 1
    with Journal.open(path) as journal:  # not re-run: ADD COLUMN twice would fail
        assert journal.get_order("o1") is not None
    monkeypatch.setattr(journal_module, "MIGRATIONS", list(MIGRATIONS))
    with pytest.raises(JournalError, match="newer"):
        Journal.open(path)


def test_a_failed_migration_step_leaves_the_schema_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "j.sqlite3"
    Journal.open(path).close()
    broken = "CREATE TABLE extra (x INTEGER); INSERT INTO no_such_table VALUES (1);"
    monkeypatch.setattr(journal_module, "MIGRATIONS", [*MIGRATIONS, broken])
    with pytest.raises(sqlite3.OperationalError):
        Journal.open(path)
    monkeypatch.setattr(journal_module, "MIGRATIONS", list(MIGRATIONS))
    with Journal.open(path) as journal:
        assert journal.schema_version == len(MIGRATIONS)
    probe = sqlite3.connect(path)
    try:
        names = {row[0] for row in probe.execute("SELECT name FROM sqlite_master")}
    finally:
        probe.close()
    assert "extra" not in names


def test_a_transition_commits_without_a_disk_flush(journal: Journal) -> None:
    """What keeps a commit off the disk (a flush per commit would cost ~ms on the hot path):
    WAL with synchronous=NORMAL on the journal's own connection. Checked as settings, not
    as wall time (1000 commits under 1 s failed whenever the machine was busy); the time
    per commit is measured by bench/engine_price_update.py."""
    db = journal._db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    add(journal, "o1")
    for seq in range(2, 102):
        journal.record("o1", event("o1", seq, "guarding", seq), state="guarding")
    assert len(journal.events("o1")) == 101


def test_heads_always_match_a_model_of_per_order_queues(journal: Journal) -> None:
    """Random enqueues and deliveries: the due heads are always each order's oldest
    undelivered callback, compared with a plain-Python model."""
    import random

    rng = random.Random(7)
    orders = ["a", "b", "c", "d"]
    seqs = dict.fromkeys(orders, 1)
    for order_id in orders:
        add(journal, order_id)
    model: dict[str, list[str]] = {order_id: [] for order_id in orders}
    counter = 0
    for step in range(300):
        order_id = rng.choice(orders)
        if rng.random() < 0.55 or not model[order_id]:
            batch = []
            for _ in range(rng.randint(0, 3)):
                counter += 1
                batch.append(callback(order_id, f"e{counter}", created_ms=step))
                model[order_id].append(f"e{counter}")
            seqs[order_id] += 1
            journal.record(
                order_id, event(order_id, seqs[order_id], "x", step), state="x", callbacks=batch
            )
        else:
            journal.mark_delivered(model[order_id].pop(0), at_ms=step)
        expected = {queue[0] for queue in model.values() if queue}
        assert {i.event_id for i in journal.due_callbacks(10**13, 100)} == expected
        assert journal.pending_count() == sum(len(q) for q in model.values())


def test_update_data_merges_facts_without_a_transition(journal: Journal) -> None:
    add(journal, "o1", at_ms=10)
    journal.update_data("o1", {"exchange_order_id": "987", "filled": Decimal("0.5")})
    journal.update_data("o1", {"filled": Decimal("1.0")}, at_ms=50)
    stored = journal.get_order("o1")
    assert stored is not None
    assert stored.data == {"exchange_order_id": "987", "filled": Decimal("1.0")}
    assert (stored.state, stored.last_seq, stored.updated_ms) == ("waiting", 1, 50)
    assert len(journal.events("o1")) == 1
    with pytest.raises(UnknownOrder):
        journal.update_data("ghost", {"x": 1})


def test_retry_pending_now_makes_backed_off_callbacks_due(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.db") as journal:
        journal.add_order(
            "o1",
            "BTCUSDT",
            {"id": "o1"},
            "h",
            "waiting_zone",
            1000,
            {"order_id": "o1", "seq": 0, "at_ms": 1000},
            callbacks=[OutboxItem("e1", "o1", "http://127.0.0.1:9/cb", {"status": "x"}, 1000)],
        )
        journal.mark_failed("e1", "refused", next_attempt_ms=60_000)
        assert journal.due_callbacks(2000, 10) == []
        assert journal.retry_pending_now(2000) == 1
        assert [item.event_id for item in journal.due_callbacks(2000, 10)] == ["e1"]
        journal.mark_delivered("e1", 2100)
        assert journal.retry_pending_now(3000) == 0


def test_a_journal_of_the_first_schema_keeps_its_waiting_callbacks_after_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker upgraded in place finds the callbacks its older self had not delivered."""
    path = tmp_path / "j.sqlite3"
    monkeypatch.setattr(journal_module, "MIGRATIONS", MIGRATIONS[:1])
    with Journal.open(path) as old:
        add(old, "o1")
        old.record(
            "o1", event("o1", 2, "placing"), state="placing", callbacks=[callback("o1", "e")]
        )
    monkeypatch.setattr(journal_module, "MIGRATIONS", list(MIGRATIONS))
    with Journal.open(path) as journal:
        assert journal.schema_version == len(MIGRATIONS)
        assert [i.event_id for i in journal.due_callbacks(10**13, 10)] == ["e"]
        journal.mark_refused("e", "HTTP 422", 5)
        assert journal.due_callbacks(10**13, 10) == []
        assert [i.event_id for i in journal.refused_callbacks()] == ["e"]
        assert journal.purge_delivered(10**13) == 0, "set-aside callbacks are kept"
