"""Orders as the worker holds them, for the OrderQueue tests (a uniquely named module, not
conftest, so imports cannot pick another folder's)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from zoneguard.domain.lifecycle import Lifecycle
from zoneguard.domain.plan import PlanDefaults, parse_plan
from zoneguard.worker.order_queue import OrderQueue, WorkerOrder, now_ms

SEED_LONG: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "side": "long",
    "entry_zone_min": 65000,
    "entry_zone_max": 65500,
    "quantity": 0.01,
    "stop_loss": 64000,
    "take_profit": 68000,
}


def accepted(queue: OrderQueue, order_id: str = "o1", **changes: Any) -> WorkerOrder:
    """A new order journaled and held as ``place-order`` leaves it (waiting for its zone)."""
    plan = parse_plan({**SEED_LONG, "id": order_id, **changes}, PlanDefaults())
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
