"""What the engine remembers about orders: every order it accepted, the open ones, the
client ids in use, the fills, and the order events not yet pushed.

Kept apart from the code that executes orders so that plan and TP/SL book-keeping can see
which client ids are taken without depending on execution, and so the queries the REST
routes make read one place.
"""

from __future__ import annotations

from zoneguard.sim import errors as e
from zoneguard.sim.errors import SimError
from zoneguard.sim.model import ACTION_SUBMIT, Fill, Order, OrderEvent


class OrderLedger:
    def __init__(self) -> None:
        self.orders: dict[int, Order] = {}
        self.open: dict[int, Order] = {}
        self.by_client_id: dict[str, int] = {}
        self.fills: list[Fill] = []
        self._events: list[OrderEvent] = []

    def register(self, order: Order) -> None:
        """Remember a freshly accepted order as open, and record its submit event."""
        self.orders[order.order_id] = order
        self.open[order.order_id] = order
        if order.client_order_id:
            self.by_client_id[order.client_order_id] = order.order_id
        self.emit(ACTION_SUBMIT, order)

    def emit(self, action: int, order: Order, fill: Fill | None = None) -> None:
        """Record an order event with a snapshot, so the push shows the order as it is now."""
        self._events.append(OrderEvent(action, order.snapshot(), fill))

    def find(self, symbol: str, order_id: int | None, client_order_id: str | None) -> Order:
        """An order of ``symbol`` by id, else by client id; finished ones are found too."""
        if order_id is None and client_order_id:
            order_id = self.by_client_id.get(client_order_id)
        order = self.orders.get(order_id) if order_id is not None else None
        if order is None or order.symbol != symbol:
            raise SimError(e.ORDER_NOT_EXIST, "Order not exist")
        return order

    def take_events(self) -> list[OrderEvent]:
        """Order events since the last call, oldest first, and forget them."""
        events = self._events
        self._events = []
        return events
