"""Price history of one symbol: minute bars, the live bar of every timeframe, 24 h stats.

Everything is updated incrementally on each price so a tick costs O(timeframes), never a
scan of the history. Times are the simulator's wall clock (seconds for bar opens).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from decimal import Decimal

WEEK_ANCHOR_S = 4 * 86_400
"""1970-01-05, a Monday: weekly bars open on Mondays 00:00 UTC."""

TIMEFRAME_SECONDS: dict[str, int] = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1_800,
    "1H": 3_600,
    "2H": 7_200,
    "4H": 14_400,
    "1D": 86_400,
    "1W": 604_800,
}
"""BitMart's websocket kline spellings (``futures/klineBin1H``) and their lengths."""

REST_KLINE_STEPS = frozenset({1, 3, 5, 15, 30, 60, 120, 240, 360, 720, 1440, 4320, 10080})
"""Minutes accepted by ``GET /contract/public/kline?step=``."""

MAX_MINUTE_BARS = 14 * 1_440
EVICT_BATCH = 1_440
DAY_S = 86_400


def bar_open(ts_s: int, length_s: int) -> int:
    """Open time of the bar of ``length_s`` seconds that contains ``ts_s``."""
    if length_s == TIMEFRAME_SECONDS["1W"]:
        return ts_s - (ts_s - WEEK_ANCHOR_S) % length_s
    return ts_s - ts_s % length_s


@dataclass(slots=True)
class Bar:
    open_s: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int

    def update(self, price: Decimal, volume: int) -> None:
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        self.close = price
        self.volume += volume


class CandleSeries:
    """Bars for one symbol, fed one traded price at a time."""

    def __init__(self) -> None:
        self._minutes: list[Bar] = []
        self._minute_opens: list[int] = []
        self._live: dict[str, Bar] = {}
        self._window_start = 0  # index into _minutes of the first bar inside the last 24 h
        self._window_volume = 0

    def record(self, price: Decimal, volume: int, ts_ms: int) -> None:
        ts_s = ts_ms // 1000
        for name, length in TIMEFRAME_SECONDS.items():
            opened = bar_open(ts_s, length)
            bar = self._live.get(name)
            if bar is None or bar.open_s != opened:
                bar = Bar(opened, price, price, price, price, volume)
                self._live[name] = bar
                if name == "1m":
                    self._append_minute(bar)
            else:
                bar.update(price, volume)
        self._window_volume += volume
        self._slide_window(ts_s)

    def _append_minute(self, bar: Bar) -> None:
        self._minutes.append(bar)
        self._minute_opens.append(bar.open_s)
        if len(self._minutes) > MAX_MINUTE_BARS + EVICT_BATCH:
            # Evict in batches so the cost is amortised; the 24 h window is far younger.
            evicted = min(EVICT_BATCH, self._window_start)
            del self._minutes[:evicted]
            del self._minute_opens[:evicted]
            self._window_start -= evicted

    def _slide_window(self, now_s: int) -> None:
        cutoff = now_s - DAY_S
        while self._window_start < len(self._minutes) - 1:
            bar = self._minutes[self._window_start]
            if bar.open_s >= cutoff:
                break
            self._window_volume -= bar.volume
            self._window_start += 1

    def live_bar(self, timeframe: str) -> Bar | None:
        """The bar of ``timeframe`` that the latest price belongs to."""
        return self._live.get(timeframe)

    @property
    def volume_24h(self) -> int:
        return self._window_volume

    def open_24h(self) -> Decimal | None:
        """Open of the oldest minute inside the last 24 h: the base of the 24 h change."""
        if not self._minutes:
            return None
        return self._minutes[self._window_start].open

    def bars(self, step_minutes: int, start_s: int, end_s: int, limit: int = 500) -> list[Bar]:
        """Bars of ``step_minutes`` whose open lies in [start_s, end_s], oldest first.

        Minutes without a price repeat the previous close with zero volume, as an exchange
        prints quiet minutes; nothing is invented before the first recorded price.
        """
        if not self._minutes or end_s < start_s:
            return []
        length = step_minutes * 60
        opens = self._minute_opens
        first_known = opens[0]
        bucket = bar_open(max(start_s, bar_open(first_known, length)), length)
        if bucket < start_s:
            bucket += length
        last_open = opens[-1]
        out: list[Bar] = []
        index = bisect_left(opens, bucket)
        previous_close = self._minutes[index - 1].close if index > 0 else None
        while bucket <= end_s and bucket <= last_open and len(out) < limit:
            bucket_end = bucket + length
            bar: Bar | None = None
            while index < len(opens) and opens[index] < bucket_end:
                minute = self._minutes[index]
                if bar is None:
                    bar = Bar(bucket, minute.open, minute.high, minute.low, minute.close, 0)
                else:
                    bar.update(minute.high, 0)
                    bar.update(minute.low, 0)
                    bar.close = minute.close
                bar.volume += minute.volume
                index += 1
            if bar is None and previous_close is not None:
                bar = Bar(bucket, previous_close, previous_close, previous_close, previous_close, 0)
            if bar is not None:
                out.append(bar)
                previous_close = bar.close
            bucket += length
        return out
