"""Kline files become price paths: four points per minute, in the bar's likely order."""

from __future__ import annotations

import asyncio
import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from zoneguard.sim.replay import KlinePricePath, ReplayRunner, load_klines

HEADER = "open_time,open,high,low,close,volume,close_time\n"
ROWS = (
    "1722470400000,100.5,103.0,99.0,102.0,1.5,1722470459999\n"  # up bar
    "1722470460000,102.0,104.0,98.5,99.5,2.0,1722470519999\n"  # down bar
)


def write(tmp_path: Path, text: str, name: str = "k.csv.gz") -> Path:
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def test_up_bar_goes_low_then_high_and_down_bar_high_then_low(tmp_path: Path) -> None:
    path = KlinePricePath.from_file(write(tmp_path, HEADER + ROWS))
    points = list(path)
    assert len(path) == len(points) == 8
    assert [p.price for p in points] == [
        Decimal(x) for x in ("100.5", "99.0", "103.0", "102.0", "102.0", "104.0", "98.5", "99.5")
    ]
    assert [p.time_ms - 1722470400000 for p in points[:4]] == [0, 15_000, 30_000, 45_000]
    assert points[4].row == 1


def test_plain_csv_works_too(tmp_path: Path) -> None:
    assert len(load_klines(write(tmp_path, HEADER + ROWS, "k.csv"))) == 2


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("open_time,open,close\n1,2,3\n", "missing column"),
        (HEADER, "no kline rows"),
        (HEADER + "x,1,2,3,4,5,6\n", "not a kline row"),
    ],
)
def test_bad_files_are_refused_with_a_reason(tmp_path: Path, text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        load_klines(write(tmp_path, text))


def test_missing_file_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        load_klines(tmp_path / "absent.csv.gz")


async def test_runner_plays_every_point_in_order_on_schedule(tmp_path: Path) -> None:
    seen: list[tuple[str, Decimal]] = []

    async def set_price(symbol: str, price: Decimal) -> None:
        seen.append((symbol, price))

    path = KlinePricePath.from_file(write(tmp_path, HEADER + ROWS))
    runner = ReplayRunner(path, "ETHUSDT", speed=60 * 60, set_price=set_price)  # 1 min = 16.7 ms
    loop = asyncio.get_running_loop()
    started = loop.time()
    await runner.run()
    elapsed = loop.time() - started
    assert [price for _, price in seen] == [p.price for p in path]
    assert {symbol for symbol, _ in seen} == {"ETHUSDT"}
    assert elapsed >= 7 * runner.point_interval_s * 0.9  # paced, not instant
    assert runner.progress()["finished"] is True
    assert runner.progress()["rows_done"] == 2
