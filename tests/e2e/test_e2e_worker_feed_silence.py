"""A guarded position whose price feed goes silent (the simulator's ``stall_feed``): the
guard asks the exchange for the price by REST every ``check_interval_ms``, within the
venue's public rate limit, and the log tells the silence once when it starts and once
when it ends."""

from __future__ import annotations

import itertools
import re
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from e2e_harness import SEED_ORDER, Client, Stack, eventually

ORDER_ID = str(SEED_ORDER["id"])
ETH_ORDER = {
    "id": "eth-far",
    "symbol": "ETHUSDT",
    "side": "long",
    "entry_zone_min": 3000,
    "entry_zone_max": 3050,
    "quantity": 0.1,
    "leverage": 10,
    "stop_loss": 2900,
}


@dataclass
class Ask:
    symbol: str
    started: float
    answered: float | None = None


@dataclass
class Asks:
    """Every REST last-price question the worker sends (the real call still goes out)."""

    seen: list[Ask] = field(default_factory=list)

    def of(self, symbol: str, after: float = 0.0) -> list[Ask]:
        return [a for a in self.seen if a.symbol == symbol and a.started >= after]

    def answered(self, symbol: str, after: float = 0.0) -> list[Ask]:
        return [a for a in self.of(symbol, after) if a.answered is not None]


def record_asks(stack: Stack) -> Asks:
    assert stack.worker is not None
    exchange: Any = stack.worker.service.exchange
    original: Callable[[str], Awaitable[Decimal]] = exchange.last_price
    asks = Asks()

    async def last_price(symbol: str) -> Decimal:
        ask = Ask(symbol, time.monotonic())
        asks.seen.append(ask)
        price = await original(symbol)
        ask.answered = time.monotonic()
        return price

    exchange.last_price = last_price
    return asks


async def open_long(stack: Stack, client: Client, order: dict[str, Any], *path: int) -> None:
    status, body = await client.post("/api/place-order", order)
    assert status == 200, body
    await client.price(order["symbol"], path[0])
    await stack.receiver.wait_for(order["id"], "placed")
    await client.prices(order["symbol"], *path[1:])
    await client.wait_state(order["id"], "open")


def lines(stack: Stack, pattern: str) -> list[str]:
    return [line for line in stack.app_log.read_text().splitlines() if re.search(pattern, line)]


async def test_stalled_feed_is_asked_every_check_interval_and_a_stop_closes_in_time(
    stack: Stack,
) -> None:
    client = await stack.start()  # stop_loss.check_interval_ms: 100 (the default)
    await open_long(stack, client, SEED_ORDER, 65300, 65200, 65100)
    asks = record_asks(stack)
    stalled = time.monotonic()
    await client.fault({"stall_feed": True})
    await eventually(lambda: len(asks.answered("BTCUSDT", stalled)) >= 12, 10, "12 REST prices")
    starts = [a.started for a in asks.of("BTCUSDT", stalled)][:12]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert 0.08 <= statistics.median(gaps) <= 0.2, gaps  # 100 ms, not 300

    # Cross the stop right after an answer: the next question comes within 100 ms.
    count = len(asks.answered("BTCUSDT"))
    await eventually(lambda: len(asks.answered("BTCUSDT")) > count, 5, "a REST answer")
    round_trip = max(a.answered - a.started for a in asks.answered("BTCUSDT") if a.answered)
    crossed_ms = time.time() * 1000
    await client.price("BTCUSDT", 63990)  # no push goes out for this
    closed = await stack.receiver.wait_for(ORDER_ID, "closed")
    assert (closed["reason"], closed["closed_by"]) == ("stop_loss", "worker")
    (close,) = [o for o in (await client.sim_state())["orders"] if o["side"] == 3]
    took_ms = int(close["create_time"]) - crossed_ms
    # check_interval_ms + one REST round trip (+ room for a busy machine), never 300 ms.
    assert took_ms <= 100 + round_trip * 1000 + 120, (took_ms, round_trip)


async def test_silence_is_logged_when_it_starts_and_when_it_ends_not_each_poll(
    stack: Stack,
) -> None:
    client = await stack.start()
    await open_long(stack, client, SEED_ORDER, 65300, 65200, 65100)
    asks = record_asks(stack)
    # A quiet market first: the simulator re-sends its ticker once a second, so the guard
    # asks by REST between two pushes; that is no silence to tell anyone about.
    await eventually(lambda: len(asks.answered("BTCUSDT")) >= 12, 10, "quiet-market prices")
    assert lines(stack, "silent since|back after") == []

    await client.fault({"stall_feed": True})
    stalled = time.monotonic()
    (silent,) = await eventually(lambda: lines(stack, "silent since"), 8, "the silence line")
    assert " WARNING " in silent and "SLTP feed of BTCUSDT silent since 20" in silent
    assert "asked every 100 ms" in silent
    await eventually(lambda: len(asks.answered("BTCUSDT", stalled)) >= 28, 10, "3 s of silence")
    assert len(lines(stack, "silent since")) == 1
    assert lines(stack, " INFO .*REST price") == [], "a line per poll"

    await client.fault({"stall_feed": False})
    await client.price("BTCUSDT", 65150)  # the feed speaks again
    (back,) = await eventually(lambda: lines(stack, "back after"), 5, "the line of its return")
    found = re.search(r"back after (\d+\.\d) s silent: (\d+) REST prices used", back)
    assert found is not None and " INFO " in back, back
    assert float(found[1]) >= 2.5
    assert int(found[2]) >= 28
    assert len(lines(stack, "silent since")) == 1


async def test_when_the_budget_is_short_the_stop_nearest_the_price_is_asked_first(
    stack: Stack,
) -> None:
    client = await stack.start(
        sim={"prices": {"BTCUSDT": Decimal("66000"), "ETHUSDT": Decimal("3100")}}
    )
    await open_long(stack, client, SEED_ORDER, 65300, 65200, 65100)
    await open_long(stack, client, ETH_ORDER, 3040, 3030, 3020)
    await client.price("BTCUSDT", 64100)  # 0.16 % above its stop; ETH is 4 % above its own
    asks = record_asks(stack)
    await client.fault({"stall_feed": True})
    stalled = time.monotonic()
    # Two stops asked every 100 ms would need 20 prices a second; BitMart's public limits
    # leave 10 (20 per 2 s over two endpoints).
    await eventually(lambda: len(asks.answered("BTCUSDT", stalled)) >= 30, 10, "3 s of prices")
    btc, eth = asks.of("BTCUSDT", stalled), asks.of("ETHUSDT", stalled)
    starts = sorted(a.started for a in btc + eth)
    most_in_2s = max(sum(1 for t in starts if s <= t < s + 2.0) for s in starts)
    assert most_in_2s <= 20, most_in_2s
    assert len(btc) >= 3 * len(eth), (len(btc), len(eth))
    assert len(eth) >= 1, "the farther stop is asked too, less often"
    (limit,) = lines(stack, "budget")
    assert " WARNING " in limit and "REST price budget (20 per 2 s) is the limit" in limit
    assert lines(stack, "rate limit: waiting|REST price of .* failed") == []
    assert await client.order_state(ORDER_ID) == "open"


async def test_a_guarded_target_alone_is_asked_at_the_take_profit_interval(
    stack: Stack,
) -> None:
    client = await stack.start(orders={"take_profit": {"check_interval_ms": 400}})
    target_only = {**SEED_ORDER, "stop_loss": None}
    await open_long(stack, client, target_only, 65300, 65200, 65100)
    asks = record_asks(stack)
    await client.fault({"stall_feed": True})
    stalled = time.monotonic()
    await eventually(lambda: len(asks.answered("BTCUSDT", stalled)) >= 5, 10, "5 REST prices")
    starts = [a.started for a in asks.of("BTCUSDT", stalled)][:5]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert 0.35 <= statistics.median(gaps) <= 0.6, gaps
