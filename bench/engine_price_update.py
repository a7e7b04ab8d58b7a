"""The worker's whole per-update cost, in-process: no network, no simulator.

Run:  python bench/engine_price_update.py               (from the repository root, venv active)
      python bench/engine_price_update.py --quick       (sizes up to 10k, fewer updates)

Target: <= 5 us per price update, flat from 0 to 100k waiting orders (an update may only cost
more when something actually triggers, never because more orders wait).

For n = 0, 1, 1k, 10k, 100k waiting orders (plus n/100 guarded positions, at least one when
n > 0), updates in a price band that no zone and no guard reaches, so nothing triggers (the
common case):
* ``on_price``: ``WorkerService.on_price(tick)`` - quotes, the update counter, the SL/TP
  guard's and the entry zones' trigger queries - for a ready ``PriceTick``;
* ``parse``: a ticker frame as BitMart sends it (text) -> ``PriceTick``: the websocket's
  frame handling (``orjson`` decode, group routing), the adapter's dispatch and
  ``parse.parse_ticker``, into a handler that only keeps the tick;
* ``frame -> on_price``: the two together, the worker's real handler behind the adapter.

And updates that do trigger, one order each (1,000 of each kind on top of the n above):
* ``entry: tick -> sent``: from ``on_price`` to the entry order handed to the exchange
  port - trigger query, journal row ``placing`` committed (real SQLite file), client id,
  maker price, request; ``entry: whole update``: until ``on_price`` returns (log lines,
  written after the send, included);
* ``stop: tick -> sent`` / ``stop: whole update``: the same for a stop-loss crossed.

All orders wait on the symbol that ticks (the worst case for the index: one symbol holding
every zone; the control API allows one live order per symbol and side, so the orders are
added the way the service adds them, without that rule). Each update is timed alone with
``time.perf_counter_ns`` (about 0.1 us of the figure is the clock itself); the table shows
median, p99 and mean per update, after a warm-up (quiet updates only).

No network: the exchange is a minimal in-file stand-in (``StandInExchange``) that answers
the calls the service makes while orders are added, takes orders synchronously like the
BitMart adapter's order lane (it notes the time and never answers) and refuses anything
else. The journal is a real SQLite file and the worker's log goes to a real file in a
temporary directory (its stderr copy to /dev/null), as in production.
This file is a benchmark: nothing in the product or the tests imports it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import orjson

from zoneguard.domain.contract import ContractSpec
from zoneguard.domain.lifecycle import Lifecycle, OrderState
from zoneguard.domain.market import PriceTick
from zoneguard.domain.plan import parse_plan
from zoneguard.exchange.bitmart.adapter import BitMartExchange
from zoneguard.exchange.bitmart.settings import BitMartSettings
from zoneguard.exchange.bitmart.ws import BitMartWebSocket
from zoneguard.exchange.port import ConnectionHealth, ExchangePort, OrderRequest, PlacedOrder
from zoneguard.worker.config import OrdersConfig, WorkerSettings
from zoneguard.worker.logs import setup_worker_logging, shutdown_worker_logging
from zoneguard.worker.order_queue import WorkerOrder, now_ms
from zoneguard.worker.service import WorkerService

SYMBOL = "BTCUSDT"
SIZES = (0, 1, 1_000, 10_000, 100_000)
QUICK_SIZES = (0, 1, 1_000, 10_000)
BAND_LOW, BAND_HIGH = 59_000.0, 61_000.0
"""Every quiet update's price is in this band; no zone and no guard level is."""
ENTRY_ZONES_FROM = 61_200
"""Triggering entries: zone i is [61_200 + 2i, 61_200 + 2i + 1]."""
STOPS_FROM = 58_000
"""Triggering stops: long i has its stop-loss at 58_000 - 2i."""
TRIGGERS = 1_000
TARGET_US = 5.0
WARM_UP = 2_000
UPDATES = 50_000
QUICK_UPDATES = 10_000

SPEC = ContractSpec(
    symbol=SYMBOL,
    base_currency="BTC",
    quote_currency="USDT",
    contract_size=Decimal("0.001"),
    tick_size=Decimal("0.1"),
    lot_size=Decimal(1),
    min_volume=Decimal(1),
    max_volume=Decimal(1_000_000),
    market_max_volume=Decimal(1_000_000),
    min_leverage=Decimal(1),
    max_leverage=Decimal(125),
    last_price=Decimal(60_000),
)


class StandInExchange:
    """Just enough of the exchange port for a service that is built but never started:
    stream registrations are accepted (and ignored), the contract is known, leverage is
    accepted, an order is taken synchronously (like the BitMart adapter's order lane: the
    time is noted, no answer ever comes); anything else raises AttributeError."""

    venue = "stand-in"

    def __init__(self) -> None:
        self.sent_ns: list[int] = []

    def on_price(self, handler: Any) -> None:
        pass

    on_kline = on_order = on_position = on_connection = on_price

    async def contract(self, symbol: str) -> ContractSpec:
        return SPEC

    async def set_leverage(self, symbol: str, leverage: Decimal, margin_mode: Any) -> None:
        pass

    def place_order_now(self, request: OrderRequest) -> asyncio.Future[PlacedOrder]:
        self.sent_ns.append(time.perf_counter_ns())
        return asyncio.get_running_loop().create_future()

    def health(self) -> ConnectionHealth:
        return ConnectionHealth(False, False, False, None, 0)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"the benchmark must not reach the exchange ({name})")


def quiet_stderr() -> None:
    """The worker's log handlers stay as installed (file and stderr, formats, masking);
    the stderr copy goes to /dev/null so the benchmark's output stays readable."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 (closed with the handler)


def make_service(var_dir: Path, exchange: StandInExchange) -> WorkerService:
    settings = WorkerSettings(APP_BASE_URL="http://127.0.0.1:9")  # type: ignore[call-arg]
    return WorkerService(cast(ExchangePort, exchange), OrdersConfig(), settings, var_dir)


def quiet_zone(rng: random.Random) -> tuple[int, int]:
    """A zone 10-40 % below or 5-40 % above the band (clear of the triggering levels)."""
    if rng.random() < 0.5:
        high = int(BAND_LOW * rng.uniform(0.60, 0.90))
        return high - rng.randint(50, 500), high
    low = int(BAND_HIGH * rng.uniform(1.05, 1.40))
    return low, low + rng.randint(50, 500)


def add_order(
    service: WorkerService,
    number: int,
    zone: tuple[int, int],
    side: str,
    *,
    exits: tuple[int, int] | None = None,
) -> None:
    """Journal, hold and index one order as ``place_order`` does (waiting), or with
    ``exits`` (stop-loss, take-profit) as a guarded open position."""
    payload: dict[str, Any] = {
        "id": f"bench-{number}",
        "symbol": SYMBOL,
        "side": side,
        "entry_zone_min": zone[0],
        "entry_zone_max": zone[1],
        "quantity": "0.01",
        "leverage": 10,
        "timeout_seconds": 86_400,
    }
    if exits is not None:
        payload.update(stop_loss=exits[0], take_profit=exits[1])
    plan = parse_plan(payload, service.defaults)
    created = now_ms()
    lifecycle, first = Lifecycle.start(plan.id, created)
    order = WorkerOrder(
        plan=plan,
        lifecycle=lifecycle,
        zone_low=Decimal(zone[0]),
        zone_high=Decimal(zone[1]),
        contracts=Decimal(10),
        deadline_ms=created + plan.timeout_seconds * 1000,
        created_ms=created,
    )
    service.queue.add(order, first)
    if exits is None:
        service.entry.watch(order, arriving=True, check_now=False)
        return
    order.filled_contracts = order.contracts
    order.entry_price = Decimal(60_000)
    service.queue.move(order, OrderState.PLACING, "bench")
    service.queue.move(order, OrderState.PLACED, "bench")
    service.queue.move(order, OrderState.OPEN, "bench")
    service.sltp.guard(order)


def band_prices(rng: random.Random, count: int) -> list[Decimal]:
    """A random walk on the 0.1 grid, kept inside the band."""
    price = (BAND_LOW + BAND_HIGH) / 2
    prices = []
    for _ in range(count):
        price = min(BAND_HIGH, max(BAND_LOW, price + rng.gauss(0, 5)))
        prices.append(Decimal(f"{price:.1f}"))
    return prices


def tick(price: Decimal) -> PriceTick:
    spread = Decimal("0.1")
    return PriceTick(SYMBOL, price, price - spread, price + spread, price, time.monotonic_ns())


def ticker_frame(price: Decimal) -> str:
    """A ``futures/ticker`` push as BitMart's public socket sends it."""
    spread = Decimal("0.1")
    data = {
        "symbol": SYMBOL,
        "volume_24": "117387.58",
        "mark_price": str(price),
        "index_price": str(price),
        "last_price": str(price),
        "range": "0.0113",
        "ask_price": str(price + spread),
        "ask_vol": "12",
        "bid_price": str(price - spread),
        "bid_vol": "7",
    }
    return orjson.dumps({"group": "futures/ticker", "data": data}).decode()


def timed(call: Callable[[Any], object], inputs: Sequence[Any], warm_up: int) -> list[int]:
    """Each call timed alone, after a warm-up over the first inputs; ns per call."""
    clock = time.perf_counter_ns
    for item in inputs[:warm_up]:
        call(item)
    spans = []
    for item in inputs[warm_up:]:
        start = clock()
        call(item)
        spans.append(clock() - start)
    return spans


async def timed_triggers(
    service: WorkerService, exchange: StandInExchange, ticks: Sequence[PriceTick]
) -> tuple[list[int], list[int]]:
    """(tick -> order handed to the exchange, whole update) per triggering tick, in ns.
    The loop runs between two ticks (untimed): each placement task starts and waits for
    its answer, as in the worker."""
    clock = time.perf_counter_ns
    to_sent, whole = [], []
    for item in ticks:
        sent_before = len(exchange.sent_ns)
        start = clock()
        service.on_price(item)
        end = clock()
        if len(exchange.sent_ns) != sent_before + 1:
            raise AssertionError(f"{item.last} should have sent exactly one order")
        to_sent.append(exchange.sent_ns[-1] - start)
        whole.append(end - start)
        await asyncio.sleep(0)
    return to_sent, whole


def frame_path(on_price: Callable[[PriceTick], None]) -> BitMartWebSocket:
    """The adapter's public socket with ``on_price`` behind it, fed frames by hand."""
    settings = BitMartSettings(
        api_key="k", api_secret="s", api_memo="m", rest_url="http://127.0.0.1:9"
    )
    exchange = BitMartExchange(settings)
    exchange.on_price(on_price)
    return BitMartWebSocket("ws://127.0.0.1:9/api", name="public", on_message=exchange._dispatch)


async def measure(size: int, updates: int, rng: random.Random) -> dict[str, list[int]]:
    with tempfile.TemporaryDirectory(prefix="zoneguard-bench-") as tmp:
        setup_worker_logging(Path(tmp))
        quiet_stderr()
        exchange = StandInExchange()
        service = make_service(Path(tmp), exchange)
        try:
            await service.markets.spec(SYMBOL)
            await service.placement.ensure_leverage(SYMBOL, Decimal(10))
            guards = 0 if size == 0 else max(1, size // 100)
            below, above = int(BAND_LOW * 0.8), int(BAND_HIGH * 1.2)
            for number in range(size):
                side = "long" if rng.random() < 0.5 else "short"
                add_order(service, number, quiet_zone(rng), side)
            for number in range(size, size + guards):
                side = "long" if rng.random() < 0.5 else "short"
                exits = (below, above) if side == "long" else (above, below)
                add_order(service, number, (60_000, 60_000), side, exits=exits)
            prices = band_prices(rng, WARM_UP + updates)
            ticks = [tick(p) for p in prices]
            frames = [ticker_frame(p) for p in prices]
            kept: list[PriceTick] = []
            parse_only = frame_path(kept.append)
            full = frame_path(service.on_price)
            gc.collect()
            results = {
                "on_price": timed(service.on_price, ticks, WARM_UP),
                "parse": timed(lambda f: parse_only._handle(f, 1), frames, WARM_UP),
                "frame -> on_price": timed(lambda f: full._handle(f, 1), frames, WARM_UP),
            }
            states = {order.state for order in service.queue}
            assert states <= {OrderState.WAITING_ZONE, OrderState.OPEN}, states
            assert len(kept) == len(frames), "the parse path dropped frames"

            first = size + guards
            for i in range(TRIGGERS):
                low = ENTRY_ZONES_FROM + 2 * i
                add_order(service, first + i, (low, low + 1), "long")
            for i in range(TRIGGERS):
                stop = STOPS_FROM - 2 * i
                add_order(
                    service,
                    first + TRIGGERS + i,
                    (60_000, 60_000),
                    "long",
                    exits=(stop, int(BAND_HIGH * 1.2)),
                )
            gc.collect()
            entry_ticks = [
                tick(Decimal(ENTRY_ZONES_FROM + 2 * i) + Decimal("0.5")) for i in range(TRIGGERS)
            ]
            stop_ticks = [
                tick(Decimal(STOPS_FROM - 2 * i) - Decimal("0.5")) for i in range(TRIGGERS)
            ]
            service.on_price(tick(Decimal(60_000)))  # back in the band between the two runs
            results["entry: tick -> sent"], results["entry: whole update"] = await timed_triggers(
                service, exchange, entry_ticks
            )
            service.on_price(tick(Decimal(60_000)))
            results["stop: tick -> sent"], results["stop: whole update"] = await timed_triggers(
                service, exchange, stop_ticks
            )
            return results
        finally:
            await service.entry.stop()
            await service.sltp.stop()
            service.journal.close()
            shutdown_worker_logging()


def table(rows: dict[int, dict[str, list[int]]]) -> str:
    header = f"{'measure':<22}{'waiting':>9}{'guarded':>9}{'p50 us':>9}{'p99 us':>9}{'mean us':>9}"
    lines = [header, "-" * len(header)]
    for name in next(iter(rows.values())):
        for size, results in rows.items():
            guards = 0 if size == 0 else max(1, size // 100)
            ns = sorted(results[name])
            p99 = ns[min(len(ns) - 1, round(0.99 * len(ns)) - 1)]
            lines.append(
                f"{name:<22}{size:>9}{guards:>9}{statistics.median(ns) / 1e3:>9.2f}"
                f"{p99 / 1e3:>9.2f}{statistics.fmean(ns) / 1e3:>9.2f}"
            )
    return "\n".join(lines)


async def main_async(sizes: Sequence[int], updates: int) -> dict[int, dict[str, list[int]]]:
    rng = random.Random(20240805)
    rows: dict[int, dict[str, list[int]]] = {}
    for size in sizes:
        started = time.monotonic()
        rows[size] = await measure(size, updates, rng)
        print(f"n={size}: {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="sizes up to 10k, fewer updates")
    args = parser.parse_args()
    sizes, updates = (QUICK_SIZES, QUICK_UPDATES) if args.quick else (SIZES, UPDATES)
    try:
        import uvloop
    except ImportError:
        rows = asyncio.run(main_async(sizes, updates))
    else:
        rows = uvloop.run(main_async(sizes, updates))
    print(
        f"worker per price update, in-process ({updates} quiet updates and {TRIGGERS} "
        f"triggering ones of each kind per size; quiet target <= {TARGET_US:g} us, flat in n)"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
