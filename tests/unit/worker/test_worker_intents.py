"""The hot path's write-ahead line: a request sent just before a crash, whose journal commit
never happened, is journaled at the next start under the client id it went out with."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from worker_orders import accepted

from zoneguard.domain.client_ids import client_order_id_for
from zoneguard.domain.lifecycle import OrderState
from zoneguard.worker import intents as intents_module
from zoneguard.worker.intents import Intent, IntentLog
from zoneguard.worker.journal import Journal
from zoneguard.worker.order_queue import OrderQueue


def opened(var_dir: Path) -> OrderQueue:
    return OrderQueue(Journal.open(var_dir / "worker.db"))


def crash(queue: OrderQueue) -> None:
    """What SIGKILL leaves: the files as they are, nothing flushed by us."""
    queue.intents.close()
    queue.journal.close()


def test_an_entry_sent_but_not_journaled_comes_back_placing_with_its_client_id(
    tmp_path: Path,
) -> None:
    queue = opened(tmp_path)
    order = accepted(queue)
    cid = client_order_id_for("o1", "entry1")
    order.entry_attempt, order.entry_client_id = 1, cid
    queue.note_sending(order, "entry", 1, cid, "price entered the zone")
    crash(queue)  # between the send and the journal commit

    again = opened(tmp_path)
    (restored,), unreadable = again.load()
    assert unreadable == []
    assert (restored.state, restored.entry_attempt, restored.entry_client_id) == (
        OrderState.PLACING,
        1,
        cid,
    )
    assert again.by_client_id(cid) is restored
    assert again.position_owners(restored.symbol, restored.side) == [restored]
    assert again.intents.read() == [], "folded into the journal, then emptied"
    crash(again)
    (after_second_start,), _ = opened(tmp_path).load()
    assert after_second_start.state is OrderState.PLACING, "journaled, not only in memory"


def test_a_close_sent_but_not_journaled_comes_back_closing(tmp_path: Path) -> None:
    queue = opened(tmp_path)
    order = accepted(queue)
    order.filled_contracts = Decimal(10)
    for state in (OrderState.PLACING, OrderState.PLACED, OrderState.OPEN):
        queue.move(order, state, "test")
    cid = client_order_id_for("o1", "close1")
    queue.note_sending(order, "close", 1, cid, "stop_loss")
    crash(queue)

    (restored,), _ = opened(tmp_path).load()
    assert (restored.state, restored.close_client_id, restored.close_reason) == (
        OrderState.CLOSING,
        cid,
        "stop_loss",
    )


def test_a_send_whose_move_was_journaled_changes_nothing_at_the_next_start(
    tmp_path: Path,
) -> None:
    queue = opened(tmp_path)
    order = accepted(queue)
    cid = client_order_id_for("o1", "entry1")
    order.entry_attempt, order.entry_client_id = 1, cid
    queue.note_sending(order, "entry", 1, cid, "price entered the zone")
    assert queue.move_sent(order, OrderState.PLACING, "price entered the zone", price="65400")
    queue.move(order, OrderState.WAITING_ZONE, "the exchange cancelled it unfilled")
    crash(queue)

    (restored,), _ = opened(tmp_path).load()
    assert restored.state is OrderState.WAITING_ZONE, "the old line must not resurrect it"


def test_the_file_is_emptied_only_after_a_successful_commit_and_never_when_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intents_module, "TRUNCATE_AFTER_BYTES", 100)
    log = IntentLog(tmp_path / "intents.log")
    line = Intent("o1", "entry", 1, "zg" + "0" * 30, "price entered the zone", 1)
    log.note(line)
    log.note(line)
    log.hold()  # a commit after a send failed
    log.journaled()
    assert len(log.read()) == 2
    log.clear()
    log.note(line)
    log.note(line)
    log.journaled()
    assert log.read() == []
    log.close()


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "intents.log"
    log = IntentLog(path)
    log.note(Intent("o1", "close", 2, "zg" + "1" * 30, "take_profit", 5))
    log.close()
    with path.open("ab") as raw:
        raw.write(b'["o2","entry",1,"zg')  # the crash came mid-write
    (only,) = IntentLog(path).read()
    assert (only.order_id, only.kind, only.attempt, only.reason) == (
        "o1",
        "close",
        2,
        "take_profit",
    )


def test_a_retried_close_after_close_failed_comes_back_closing_under_its_new_id(
    tmp_path: Path,
) -> None:
    queue = opened(tmp_path)
    order = accepted(queue)
    order.filled_contracts = Decimal(10)
    order.close_attempt, order.close_client_id = 1, client_order_id_for("o1", "close1")
    for state in (OrderState.PLACING, OrderState.PLACED, OrderState.OPEN):
        queue.move(order, state, "test")
    queue.move(order, OrderState.CLOSING, "stop_loss")
    queue.move(order, OrderState.CLOSE_FAILED, "close refused")
    retry = client_order_id_for("o1", "close2")
    queue.note_sending(order, "close", 2, retry, "stop_loss")
    crash(queue)

    (restored,), _ = opened(tmp_path).load()
    assert (restored.state, restored.close_attempt, restored.close_client_id) == (
        OrderState.CLOSING,
        2,
        retry,
    )
