"""Binance's rate limits: request weight per IP and minute, order counts per account per
10 s and per minute, reported on every answer in ``X-MBX-USED-WEIGHT-1M``,
``X-MBX-ORDER-COUNT-10S`` and ``X-MBX-ORDER-COUNT-1M``.

Fixed windows aligned on the clock (Binance's minute starts at :00). Past a limit the
answer is HTTP 429 with -1003 (weight) or -1015 (orders), and the request is not run;
it still counts, as on Binance, which keeps counting a client that keeps knocking.
"""

from __future__ import annotations

from dataclasses import dataclass

WEIGHT_PER_MINUTE = 2400
ORDERS_PER_10S = 300
ORDERS_PER_MINUTE = 1200


@dataclass(frozen=True, slots=True)
class Usage:
    weight: int
    orders_10s: int
    orders_1m: int
    counts_order: bool
    enforced: bool

    @property
    def weight_exceeded(self) -> bool:
        return self.enforced and self.weight > WEIGHT_PER_MINUTE

    @property
    def orders_exceeded(self) -> bool:
        return (
            self.enforced
            and self.counts_order
            and (self.orders_10s > ORDERS_PER_10S or self.orders_1m > ORDERS_PER_MINUTE)
        )

    def headers(self) -> dict[str, str]:
        headers = {"X-MBX-USED-WEIGHT-1M": str(self.weight)}
        if self.counts_order:
            headers["X-MBX-ORDER-COUNT-10S"] = str(self.orders_10s)
            headers["X-MBX-ORDER-COUNT-1M"] = str(self.orders_1m)
        return headers


class Limits:
    def __init__(self, enforce: bool = True) -> None:
        self.enforce = enforce
        self._counts: dict[tuple[str, str, int], int] = {}

    def hit(self, ip: str, weight: int, counts_order: bool, now_ms: int) -> Usage:
        minute = now_ms // 60_000
        tens = now_ms // 10_000
        used = self._add(("weight", ip, minute), weight)
        orders_10s = self._add(("orders10s", "account", tens), int(counts_order))
        orders_1m = self._add(("orders1m", "account", minute), int(counts_order))
        self._forget_before(minute)
        return Usage(used, orders_10s, orders_1m, counts_order, self.enforce)

    def _add(self, key: tuple[str, str, int], amount: int) -> int:
        total = self._counts.get(key, 0) + amount
        self._counts[key] = total
        return total

    def _forget_before(self, minute: int) -> None:
        if len(self._counts) > 64:
            floor = minute * 6 - 6
            self._counts = {
                key: count
                for key, count in self._counts.items()
                if (key[2] >= minute if key[0] != "orders10s" else key[2] >= floor)
            }
