"""Per-update cost of the trigger index (``zoneguard.domain.triggers``), by number of items.

Run:  python bench/trigger_index.py            (from the repository root, venv active)
      python bench/trigger_index.py --csv PATH (another 1m kline file, same columns)

Target: <= 5 us per price update, flat from 0 to 100k waiting orders / guarded positions
(the cost may only grow with what actually triggers, never with what merely waits).

The price path is BTCUSDT 1m klines of 2024-08-05 (a crash day: many levels crossed) from
``data/BTCUSDT_1m_2024-08-05.csv.gz`` when present, else a seeded random walk; each bar
becomes a few ticks on the 0.1 grid (open -> first extreme -> second extreme -> close).

Cases, each for n = 1, 1k, 10k, 100k:
* ``entries quiet``:  zones 5-30 % away from every price of the day: nothing triggers.
* ``guards quiet``:   longs and shorts with SL and TP beyond the day's range: nothing fires.
* ``entries mixed``:  zones spread over the day's range; each triggered zone is removed (the
  order is placed) and a new zone is added elsewhere, so n stays constant.
* ``guards mixed``:   positions with SL/TP 0.5-10 % from the price; each fired guard is
  removed (position closed) and a new position is guarded at the current price.
  Mixed cases time the query alone (it grows with the hits, not with n) and report the
  upkeep per hit (remove + add) on a separate line.

Quiet numbers are the median over batches of ``time.perf_counter_ns`` around a batch of
consecutive updates, divided by the batch size (loop overhead included); mixed numbers sum
per-query timings over each batch the same way.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import itertools
import random
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from zoneguard.domain.triggers import GuardHit, SymbolTriggers
from zoneguard.domain.values import Side

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CSV = ROOT / "data" / "BTCUSDT_1m_2024-08-05.csv.gz"
SIZES = (1, 1_000, 10_000, 100_000)
TICKS_PER_LEG = 4  # ticks between two anchors of a bar: 12 ticks per bar
BATCH = 200
MIXED_UPDATES = 4_000
TARGET_US = 5.0
TICK = Decimal("0.1")


def load_bars(path: Path) -> list[tuple[float, float, float, float]]:
    with gzip.open(path, "rt", newline="") as handle:
        return [
            (float(row["open"]), float(row["high"]), float(row["low"]), float(row["close"]))
            for row in csv.DictReader(handle)
        ]


def random_walk_bars(
    rng: random.Random, count: int = 1440
) -> list[tuple[float, float, float, float]]:
    bars: list[tuple[float, float, float, float]] = []
    price = 58_000.0
    for _ in range(count):
        moves = [price * (1 + rng.gauss(0, 0.0012)) for _ in range(4)]
        close = moves[-1]
        bars.append((price, max(price, *moves), min(price, *moves), close))
        price = close
    return bars


def ticks_from_bars(bars: list[tuple[float, float, float, float]]) -> list[Decimal]:
    """Open -> nearer extreme -> other extreme -> close, interpolated on the 0.1 grid."""
    prices: list[Decimal] = []
    for open_, high, low, close in bars:
        first, second = (low, high) if close >= open_ else (high, low)
        anchors = (open_, first, second, close)
        for start, end in itertools.pairwise(anchors):
            for step in range(TICKS_PER_LEG):
                value = start + (end - start) * step / TICKS_PER_LEG
                prices.append(Decimal(f"{value:.1f}"))
    return prices


def dec(value: float) -> Decimal:
    return Decimal(f"{value:.1f}")


def median_us_per_update(run_batch: Callable[[list[Decimal]], None], path: list[Decimal]) -> float:
    samples: list[float] = []
    for start in range(0, len(path) - BATCH + 1, BATCH):
        batch = path[start : start + BATCH]
        began = time.perf_counter_ns()
        run_batch(batch)
        samples.append((time.perf_counter_ns() - began) / BATCH / 1000)
    return statistics.median(samples)


def entries_quiet(n: int, path: list[Decimal], rng: random.Random) -> tuple[float, float]:
    low, high = float(min(path)), float(max(path))
    triggers = SymbolTriggers()
    for i in range(n):
        base = low * rng.uniform(0.70, 0.95) if i % 2 else high * rng.uniform(1.05, 1.30)
        triggers.add_entry(f"o{i}", dec(base), dec(base * rng.uniform(1.001, 1.01)))
    triggers.entries_at(path[0])
    hits = 0

    def run(batch: list[Decimal]) -> None:
        nonlocal hits
        entries_at = triggers.entries_at
        for price in batch:
            hits += len(entries_at(price))

    return median_us_per_update(run, path), hits / len(path)


def entries_mixed(n: int, path: list[Decimal], rng: random.Random) -> tuple[float, float, float]:
    low, high = float(min(path)), float(max(path))
    triggers = SymbolTriggers()
    serial = 0

    def new_zone(avoid: Decimal) -> None:
        nonlocal serial
        while True:
            start = rng.uniform(low, high)
            zone = (dec(start), dec(start * rng.uniform(1.0005, 1.003)))
            if not zone[0] <= avoid <= zone[1]:
                break
        triggers.add_entry(f"o{serial}", *zone)
        serial += 1

    for _ in range(n):
        new_zone(path[0])
    triggers.entries_at(path[0])

    def query(price: Decimal) -> list[str]:
        return triggers.entries_at(price)

    def upkeep(fired: list[str], price: Decimal) -> None:
        for order_id in fired:
            triggers.remove_entry(order_id)
            new_zone(price)

    return run_mixed(query, upkeep, path[:MIXED_UPDATES])


def run_mixed(
    query: Callable[[Decimal], list[Any]],
    upkeep: Callable[[list[Any], Decimal], None],
    updates: list[Decimal],
) -> tuple[float, float, float]:
    """Median query time per update, hits per update, and upkeep time per hit (removing
    what fired and adding a replacement), timed apart so each cost shows on its own."""
    samples: list[float] = []
    hits = 0
    upkeep_ns = 0
    clock = time.perf_counter_ns
    for start in range(0, len(updates) - BATCH + 1, BATCH):
        query_ns = 0
        for price in updates[start : start + BATCH]:
            began = clock()
            fired = query(price)
            query_ns += clock() - began
            if fired:
                hits += len(fired)
                began = clock()
                upkeep(fired, price)
                upkeep_ns += clock() - began
        samples.append(query_ns / BATCH / 1000)
    return statistics.median(samples), hits / len(updates), upkeep_ns / max(hits, 1) / 1000


def guards_quiet(n: int, path: list[Decimal], rng: random.Random) -> tuple[float, float]:
    low, high = float(min(path)), float(max(path))
    triggers = SymbolTriggers()
    for i in range(n):
        below, above = dec(low * rng.uniform(0.7, 0.95)), dec(high * rng.uniform(1.05, 1.3))
        if i % 2:
            triggers.add_guard(f"p{i}", Side.LONG, stop_loss=below, take_profit=above)
        else:
            triggers.add_guard(f"p{i}", Side.SHORT, stop_loss=above, take_profit=below)
    hits = 0

    def run(batch: list[Decimal]) -> None:
        nonlocal hits
        guards_at = triggers.guards_at
        for price in batch:
            hits += len(guards_at(price))

    return median_us_per_update(run, path), hits / len(path)


def guards_mixed(n: int, path: list[Decimal], rng: random.Random) -> tuple[float, float, float]:
    triggers = SymbolTriggers()
    serial = 0

    def new_guard(price: Decimal) -> None:
        nonlocal serial
        now = float(price)
        below = dec(now * (1 - rng.uniform(0.005, 0.10)))
        above = dec(now * (1 + rng.uniform(0.005, 0.10)))
        if serial % 2:
            triggers.add_guard(f"p{serial}", Side.LONG, stop_loss=below, take_profit=above)
        else:
            triggers.add_guard(f"p{serial}", Side.SHORT, stop_loss=above, take_profit=below)
        serial += 1

    for _ in range(n):
        new_guard(path[0])

    def query(price: Decimal) -> list[GuardHit]:
        return triggers.guards_at(price)

    def upkeep(fired: list[GuardHit], price: Decimal) -> None:
        for hit in fired:
            triggers.remove_guard(hit.position_id)
            new_guard(price)

    return run_mixed(query, upkeep, path[:MIXED_UPDATES])


QuietCase = Callable[[int, list[Decimal], random.Random], tuple[float, float]]
MixedCase = Callable[[int, list[Decimal], random.Random], tuple[float, float, float]]


QUIET: dict[str, QuietCase] = {"entries quiet": entries_quiet, "guards quiet": guards_quiet}
MIXED: dict[str, MixedCase] = {"entries mixed": entries_mixed, "guards mixed": guards_mixed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="1m kline csv.gz")
    args = parser.parse_args()
    rng = random.Random(20240805)
    if args.csv.exists():
        bars = load_bars(args.csv)
        source = f"{args.csv.name} ({len(bars)} bars)"
    else:
        bars = random_walk_bars(rng)
        source = f"seeded random walk ({len(bars)} bars; {args.csv} not found)"
    path = ticks_from_bars(bars)
    print(f"price path: {source}, {len(path)} updates, {min(path)} .. {max(path)}")
    print(f"median us per update (batches of {BATCH}); hits = triggers per update\n")
    header = f"{'case':<15}" + "".join(f"{'n=' + format(n, ','):>22}" for n in SIZES)
    print(header)
    print("-" * len(header))
    began = time.perf_counter()
    quiet_worst = 0.0
    for name, quiet in QUIET.items():
        cells = []
        for n in SIZES:
            us, hits = quiet(n, path, random.Random(n))
            cells.append(f"{us:8.2f} us {hits:7.2f} hits")
            quiet_worst = max(quiet_worst, us)
        print(f"{name:<15}" + "".join(f"{cell:>22}" for cell in cells))
    upkeep_lines = []
    for name, mixed in MIXED.items():
        cells = []
        upkeeps = []
        for n in SIZES:
            us, hits, upkeep_us = mixed(n, path, random.Random(n))
            cells.append(f"{us:8.2f} us {hits:7.2f} hits")
            upkeeps.append(f"{upkeep_us:19.2f} us")
        print(f"{name:<15}" + "".join(f"{cell:>22}" for cell in cells))
        label = f"  {name.split()[0]} upkeep"
        upkeep_lines.append(f"{label:<15}" + "".join(f"{u:>22}" for u in upkeeps))
    print("\n".join(upkeep_lines))
    print(
        f"\nmixed: first {MIXED_UPDATES} updates, query time only; 'upkeep' = us per hit to"
        " remove the fired item and add a replacement (O(log n) index work + setup)."
    )
    verdict = "OK" if quiet_worst <= TARGET_US else "OVER TARGET"
    print(
        f"worst quiet update: {quiet_worst:.2f} us (target <= {TARGET_US} us): {verdict}; "
        f"total {time.perf_counter() - began:.1f} s"
    )
    return 0 if quiet_worst <= TARGET_US else 1


if __name__ == "__main__":
    sys.exit(main())
