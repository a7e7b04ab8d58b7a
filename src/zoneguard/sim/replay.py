"""Historical klines as a price path: each minute becomes four prices.

A bar plays open -> low -> high -> close when it closed up (it went down first, then up),
open -> high -> low -> close when it closed down. :class:`KlinePricePath` yields the path
without timing (benchmarks, backtests); :class:`ReplayRunner` plays it into the simulator,
one historical minute every ``60 / speed`` seconds.

Input: CSV or CSV.gz with a header naming at least ``open_time,open,high,low,close``
(Binance archive layout, ``open_time`` in ms).
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

POINTS_PER_BAR = 4
REQUIRED_COLUMNS = ("open_time", "open", "high", "low", "close")


@dataclass(frozen=True, slots=True)
class KlineRow:
    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


@dataclass(frozen=True, slots=True)
class PricePoint:
    row: int  # index of the bar in the file
    time_ms: int  # historical time of this point inside its minute
    price: Decimal


def load_klines(path: Path) -> list[KlineRow]:
    """Read the file; raises ValueError with a one-line reason when it is not usable."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            reader = csv.DictReader(text)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
            rows = [_parse_row(record, number) for number, record in enumerate(reader, 2)]
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: cannot read klines ({exc})") from exc
    if not rows:
        raise ValueError(f"{path}: no kline rows")
    return rows


def _parse_row(record: dict[str, str], line: int) -> KlineRow:
    try:
        return KlineRow(
            open_time=int(record["open_time"]),
            open=Decimal(record["open"]),
            high=Decimal(record["high"]),
            low=Decimal(record["low"]),
            close=Decimal(record["close"]),
        )
    except (ValueError, InvalidOperation, TypeError) as exc:
        raise ValueError(f"line {line}: not a kline row ({exc})") from exc


def bar_path(row: KlineRow) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    if row.close >= row.open:
        return row.open, row.low, row.high, row.close
    return row.open, row.high, row.low, row.close


class KlinePricePath:
    """The whole file as a sequence of price points (4 per minute), untimed."""

    def __init__(self, rows: list[KlineRow]) -> None:
        self.rows = rows

    @classmethod
    def from_file(cls, path: Path) -> KlinePricePath:
        return cls(load_klines(path))

    def __len__(self) -> int:
        return len(self.rows) * POINTS_PER_BAR

    def __iter__(self) -> Iterator[PricePoint]:
        step_ms = 60_000 // POINTS_PER_BAR
        for index, row in enumerate(self.rows):
            for k, price in enumerate(bar_path(row)):
                yield PricePoint(index, row.open_time + k * step_ms, price)


SetPrice = Callable[[str, Decimal], Awaitable[object]]


class ReplayRunner:
    """Plays a price path into the simulator on a fixed schedule (no drift)."""

    def __init__(
        self, path: KlinePricePath, symbol: str, speed: float, set_price: SetPrice, label: str = ""
    ) -> None:
        if speed <= 0:
            raise ValueError("replay speed must be positive")
        self.path = path
        self.symbol = symbol
        self.speed = speed
        self.label = label
        self._set_price = set_price
        self.points_done = 0
        self.current: PricePoint | None = None
        self.finished = False

    @property
    def point_interval_s(self) -> float:
        return 60.0 / self.speed / POINTS_PER_BAR

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        interval = self.point_interval_s
        for point in self.path:
            due = start + self.points_done * interval
            delay = due - loop.time()
            await asyncio.sleep(delay if delay > 0 else 0)
            await self._set_price(self.symbol, point.price)
            self.current = point
            self.points_done += 1
        self.finished = True

    def progress(self) -> dict[str, Any]:
        total_rows = len(self.path.rows)
        return {
            "file": self.label,
            "symbol": self.symbol,
            "speed": self.speed,
            "rows_total": total_rows,
            "rows_done": self.points_done // POINTS_PER_BAR,
            "points_total": len(self.path),
            "points_done": self.points_done,
            "current_open_time": None
            if self.current is None
            else self.path.rows[self.current.row].open_time,
            "current_price": None if self.current is None else str(self.current.price),
            "finished": self.finished,
        }
