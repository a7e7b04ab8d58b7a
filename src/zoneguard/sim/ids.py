"""Where the simulator's order, trade and sequence numbers come from.

One :class:`IdSource` lives as long as the server (an engine reset keeps it), so ids never
repeat within a run; order ids start above 2**53 like BitMart's so that a client reading
them as doubles breaks here as it would on the exchange.
"""

from __future__ import annotations

import itertools

FIRST_ORDER_ID = 23_456_789_012_345_678
"""Above 2**53 like BitMart's own ids (PROTOCOL §7.1): a client that reads ids as doubles
breaks here exactly as it would on the exchange."""


class IdSource:
    """Order ids (large ints like BitMart's) and trade ids, unique for a server's life."""

    def __init__(self, first_order_id: int = FIRST_ORDER_ID, first_trade_id: int = 1_400_000_000):
        self._orders = itertools.count(first_order_id + 1)
        self._trades = itertools.count(first_trade_id + 1)
        self._seq = itertools.count(1)

    def order_id(self) -> int:
        return next(self._orders)

    def trade_id(self) -> int:
        return next(self._trades)

    def seq(self) -> int:
        return next(self._seq)
