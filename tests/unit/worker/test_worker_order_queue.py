"""The OrderQueue's memory: finished orders leave it after a while; the journal keeps them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from zoneguard.domain.client_ids import client_order_id_for
from zoneguard.domain.lifecycle import Lifecycle, OrderState
from zoneguard.domain.plan import PlanDefaults, parse_plan
from zoneguard.worker.journal import Journal
from zoneguard.worker.order_queue import OrderQueue, WorkerOrder, now_ms


def accepted(queue: OrderQueue, order_id: str, side: str = "long") -> WorkerOrder:
    plan = parse_plan(
        {
            "id": order_id,
            "symbol": "BTCUSDT",
            "side": side,
            "entry_zone_min": 65000,
            "entry_zone_max": 65500,
            "quantity": 0.01,
        },
        PlanDefaults(),
    )
    created = now_ms()
    lifecycle, first = Lifecycle.start(plan.id, created)
    order = WorkerOrder(
        plan=plan,
        lifecycle=lifecycle,
        zone_low=Decimal(64935),
        zone_high=Decimal("65565.5"),
        contracts=Decimal(10),
        deadline_ms=created + 300_000,
        created_ms=created,
    )
    queue.add(order, first)
    return order


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
    live = accepted(queue, "live", side="short")
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
