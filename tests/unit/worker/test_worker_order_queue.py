"""The OrderQueue's memory: finished orders leave it after a while; the journal keeps them."""

from __future__ import annotations

from pathlib import Path

from worker_orders import accepted

from zoneguard.domain.client_ids import client_order_id_for
from zoneguard.domain.lifecycle import OrderState
from zoneguard.worker.journal import Journal
from zoneguard.worker.order_queue import OrderQueue, now_ms


def test_a_finished_order_is_let_go_after_the_cutoff_and_still_read_from_the_journal(
    tmp_path: Path,
) -> None:
    queue = OrderQueue(Journal.open(tmp_path / "worker.db"))
    done = accepted(queue, "done")
    cid = client_order_id_for("done", "entry1")
    done.entry_client_id = cid
    queue.link_client_id(done, cid)
    queue.link_exchange_id(done, "123")
    queue.move(done, OrderState.TIMEOUT, "entry zone not reached")
    live = accepted(queue, "live", side="short", stop_loss=None, take_profit=None)
    finished_at = now_ms()

    assert queue.forget_finished_before(finished_at - 60_000) == 0, "too recent"
    assert queue.get("done") is done and queue.by_client_id(cid) is done

    assert queue.forget_finished_before(finished_at + 1) == 1
    assert queue.get("done") is None
    assert queue.by_client_id(cid) is None and queue.by_exchange_id("123") is None
    assert queue.in_states([OrderState.TIMEOUT]) == []
    assert queue.get("live") is live and list(queue) == [live]
    assert queue.forget_finished_before(finished_at + 1) == 0, "once"

    stored = queue.rebuild_stored("done")
    assert stored is not None
    assert (stored.state, stored.summary()["id"]) == (OrderState.TIMEOUT, "done")
    assert queue.rebuild_stored("never") is None
