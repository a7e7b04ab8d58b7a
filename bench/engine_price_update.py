"""The worker's whole per-update cost, in-process: no network, no simulator.

Run:  python bench/engine_price_update.py               (from the repository root, venv active)
      python bench/engine_price_update.py --quick       (sizes up to 10k, fewer updates)
      python bench/engine_price_update.py --legs        (guarded positions with multi-leg plans)

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

With ``--legs`` every guarded position has issue 9's multi-leg plan instead of the seed's
SL/TP (a ladder of three take-profits, break-even after TP1, a trailing stop), and two more
kinds trigger:
* ``rung: tick -> sent`` / ``rung: whole update``: a long's TP1 crossed, closing a third of
  it: the guard's decision, the rung's client id journaled, its IOC handed to the exchange;
* ``trail: whole update``: a long's trailing stop activated, the stop moved: the guard's
  decision, the new level journaled with its ``stop_moved`` (the first move of a position
  is reported at once; later ones at most once a second), the backstop's update started.

Also with ``--legs``, half the waiting orders enter in three zones (``entry_zones``: three
entries in the trigger index instead of one), and one more kind triggers:
* ``zone: tick -> sent`` / ``zone: whole update``: a waiting order's first zone entered:
  the zone it serves journaled, then the seed's entry path as above (one more commit).

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
from zoneguard.exchange.bitmart.adapter import CAPABILITIES as BITMART_CAPABILITIES
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
RUNGS_FROM = 90_000
"""Triggering rungs (--legs): long i has TP1 at 90_000 + 2i (above every waiting zone)."""
TRAILS_FROM = 93_000
"""Triggering trailing stops (--legs): long i activates at 93_000 + 2i."""
TRIGGERS = 1_000
ZONES_FROM, ZONE_TRIGGERS = 63_300, 300
"""Triggering first zones (--legs): order i's first zone is [63_300 + 2i, +1], between the
triggering entries and the waiting zones (zones are not widened here: tolerance 0)."""
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
    capabilities = BITMART_CAPABILITIES  # presets on the entry, orders sent from the push

    def __init__(self) -> None:
        self.sent_ns: list[int] = []
        self.requests: list[OrderRequest] = []

    def on_price(self, handler: Any) -> None:
        pass

    on_kline = on_order = on_position = on_connection = on_price

    async def contract(self, symbol: str) -> ContractSpec:
        return SPEC

    async def set_leverage(self, symbol: str, leverage: Decimal, margin_mode: Any) -> None:
        pass

    async def place_stop(self, request: Any) -> str:
        return "backstop"  # the exchange-side stop following a moved one (--legs)

    async def open_stops(self, symbol: str | None = None) -> list[Any]:
        return []

    def place_order_now(self, request: OrderRequest) -> asyncio.Future[PlacedOrder]:
        self.sent_ns.append(time.perf_counter_ns())
        self.requests.append(request)
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
    legs: dict[str, Any] | None = None,
) -> None:
    """Journal, hold and index one order as ``place_order`` does (waiting), or with
    ``exits`` (stop-loss, take-profit) as a guarded open position; ``legs``: exit legs
    instead of the take-profit."""
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
    if legs is not None:
        payload.pop("take_profit", None)
        payload.update(legs)
    if "entry_zones" in payload:
        del payload["entry_zone_min"], payload["entry_zone_max"]
    plan = parse_plan(payload, service.defaults, check_exits=False)
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
    if plan.entry_zones:
        service.zones.adopt(order, SPEC)
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


def multi_leg(
    side: str, first_target: int, trail_at: int, *, apart: int = 5_000, callback: str = "0.5"
) -> dict[str, Any]:
    """Issue 9's plan: three take-profits (50/25/25 %) ``apart`` from ``first_target``
    outwards, break-even after TP1, a trailing stop activated at ``trail_at`` following
    ``callback`` % behind the best price."""
    step = apart if side == "long" else -apart
    return {
        "take_profits": [
            {"price": first_target + k * step, "size_percent": pct}
            for k, pct in enumerate(("50", "25", "25"))
        ],
        "break_even": {"after_take_profit": 1, "offset_percent": "0.1"},
        "trailing_stop": {"activation_price": trail_at, "callback_percent": callback},
    }


def three_zones(zone: tuple[int, int]) -> dict[str, Any]:
    """``zone`` as three entry zones of a third each, 1 apart (pyramiding, issue 9)."""
    low, high = zone
    width = max(3, (high - low) // 3)
    return {
        "entry_zones": [
            {"min": low + k * width + k, "max": low + (k + 1) * width + k, "size_percent": pct}
            for k, pct in enumerate(("40", "30", "30"))
        ]
    }


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
            raise AssertionError(
                f"{item.last} should have sent exactly one order: {exchange.requests[sent_before:]}"
            )
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


async def measure(
    size: int, updates: int, rng: random.Random, with_legs: bool = False
) -> dict[str, list[int]]:
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
                zone = quiet_zone(rng)
                zones = three_zones(zone) if with_legs and number % 2 == 0 else None
                add_order(service, number, zone, side, legs=zones)
            for number in range(size, size + guards):
                side = "long" if rng.random() < 0.5 else "short"
                exits = (below, above) if side == "long" else (above, below)
                if with_legs and side == "short":
                    exits = (130_000, below)  # its stop above the rungs' and trails' ticks
                # Beyond every triggering level below (rungs, trailing stops, stops).
                target, trail = (100_000, 115_000) if side == "long" else (exits[1], 30_000)
                legs = multi_leg(side, target, trail) if with_legs else None
                add_order(service, number, (60_000, 60_000), side, exits=exits, legs=legs)
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
            if with_legs:
                await legs_triggers(service, exchange, first + 2 * TRIGGERS, results)
                await zone_triggers(service, exchange, first + 4 * TRIGGERS, results)
            return results
        finally:
            await service.entry.stop()
            await service.zones.stop()
            await service.sltp.stop()
            service.journal.close()
            shutdown_worker_logging()


async def legs_triggers(
    service: WorkerService, exchange: StandInExchange, first: int, results: dict[str, list[int]]
) -> None:
    """TP1 rungs crossed, then trailing stops activated, one position per tick."""
    far = int(BAND_HIGH * 1.4)
    stop = int(BAND_LOW * 0.8)
    for i in range(TRIGGERS):
        legs = multi_leg("long", RUNGS_FROM + 2 * i, far + 10_000)
        add_order(service, first + i, (60_000, 60_000), "long", exits=(stop, far), legs=legs)
    gc.collect()
    rung_ticks = [tick(Decimal(RUNGS_FROM + 2 * i) + Decimal("0.5")) for i in range(TRIGGERS)]
    service.on_price(tick(Decimal(60_000)))
    results["rung: tick -> sent"], results["rung: whole update"] = await timed_triggers(
        service, exchange, rung_ticks
    )
    for i in range(TRIGGERS):
        legs = multi_leg("long", far + 10_000, TRAILS_FROM + 2 * i, callback="5")
        number = first + TRIGGERS + i
        add_order(service, number, (60_000, 60_000), "long", exits=(stop, far), legs=legs)
    gc.collect()
    service.on_price(tick(Decimal(60_000)))
    # Rising: tick i activates trailing stop i. Each is then set aside (untimed), so the
    # next tick moves no earlier one (in a real trend every active trailing stop moves on a
    # new best; that cost is per position, as for any level crossed).
    clock = time.perf_counter_ns
    spans = []
    for i in range(TRIGGERS):
        order = service.queue.get(f"bench-{first + TRIGGERS + i}")
        assert order is not None
        start = clock()
        service.on_price(tick(Decimal(TRAILS_FROM + 2 * i) + Decimal("0.5")))
        spans.append(clock() - start)
        assert order.extra["exit"]["stop_reason"] == "trailing_stop", "activated"
        service.sltp.unguard(order)
        await asyncio.sleep(0)
    results["trail: whole update"] = spans


async def zone_triggers(
    service: WorkerService, exchange: StandInExchange, first: int, results: dict[str, list[int]]
) -> None:
    """Waiting orders with two zones each, the first zone of one entered per tick (rising);
    the second zone far below, never reached."""
    service.zones.tolerance_percent = Decimal(0)  # zones as given, 2 apart like the entries
    for i in range(ZONE_TRIGGERS):
        low = ZONES_FROM + 2 * i
        zones = {
            "entry_zones": [
                {"min": low, "max": low + 1, "size_percent": "50"},
                {"min": 40_000 - 2 * i, "max": 40_000 - 2 * i + 1, "size_percent": "50"},
            ]
        }
        add_order(service, first + i, (low, low + 1), "long", legs=zones)
    gc.collect()
    zone_ticks = [tick(Decimal(ZONES_FROM + 2 * i) + Decimal("0.5")) for i in range(ZONE_TRIGGERS)]
    service.on_price(tick(Decimal(60_000)))
    results["zone: tick -> sent"], results["zone: whole update"] = await timed_triggers(
        service, exchange, zone_ticks
    )


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


async def main_async(
    sizes: Sequence[int], updates: int, with_legs: bool
) -> dict[int, dict[str, list[int]]]:
    rng = random.Random(20240805)
    rows: dict[int, dict[str, list[int]]] = {}
    for size in sizes:
        started = time.monotonic()
        rows[size] = await measure(size, updates, rng, with_legs)
        print(f"n={size}: {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="sizes up to 10k, fewer updates")
    parser.add_argument(
        "--legs",
        action="store_true",
        help="multi-leg plans (issue 9): exit legs on guarded positions, zones on waiting ones",
    )
    args = parser.parse_args()
    sizes, updates = (QUICK_SIZES, QUICK_UPDATES) if args.quick else (SIZES, UPDATES)
    try:
        import uvloop
    except ImportError:
        rows = asyncio.run(main_async(sizes, updates, args.legs))
    else:
        rows = uvloop.run(main_async(sizes, updates, args.legs))
    plans = "multi-leg plans" if args.legs else "seed plans"
    print(
        f"worker per price update, in-process, guarded positions with {plans} "
        f"({updates} quiet updates and {TRIGGERS} "
        f"triggering ones of each kind per size; quiet target <= {TARGET_US:g} us, flat in n)"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
