"""A price history for the simulator, so the dashboard's chart has bars to draw.

The simulator only records prices as they happen; a test lasts seconds, which would leave
the chart with one bar. This replaces the symbol's bar series with real minutes from the
committed BTCUSDT slice (scaled so the last close is the simulator's current price, timed
to end at the current minute), built through :class:`CandleSeries`'s own ``record``.
"""

from __future__ import annotations

import time
from pathlib import Path

from zoneguard.sim.candles import CandleSeries
from zoneguard.sim.replay import KlineRow, bar_path, load_klines
from zoneguard.sim.server import SimServer

DATA_FILE = Path(__file__).resolve().parents[2] / "data" / "BTCUSDT_1m_2024-08-05.csv.gz"
WINDOW_END_ROW = 1110
"""Rows 1020..1109 (17:00-18:29 UTC that day): a 2.7 % range that ends drifting down."""


def history_rows(count: int, end_row: int = WINDOW_END_ROW) -> list[KlineRow]:
    rows = load_klines(DATA_FILE)
    return rows[end_row - count : end_row]


def seed_price_history(sim: SimServer, symbol: str, rows: list[KlineRow]) -> int:
    """Install ``rows`` as the minutes before now; returns how many bars were installed."""
    engine = sim.engine
    contract = engine.contract(symbol)
    last = engine.last_price(symbol)
    scale = last / rows[-1].close
    now_ms = int(time.time() * 1000)
    this_minute_ms = now_ms - now_ms % 60_000
    first_ms = this_minute_ms - len(rows) * 60_000
    series = CandleSeries()
    for index, row in enumerate(rows):
        open_ms = first_ms + index * 60_000
        for step, price in enumerate(bar_path(row)):
            scaled = contract.from_ticks(contract.to_ticks(price * scale))
            series.record(scaled, 1, open_ms + step * 15_000)
    series.record(last, 0, now_ms)  # the live bar opens at the simulator's price
    # The engine keeps one series per symbol and has no public setter: the test owns this sim.
    engine._candles[symbol] = series
    return len(rows)
