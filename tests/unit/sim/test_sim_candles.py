"""Bars built from the simulator's price history."""

from __future__ import annotations

from decimal import Decimal

from zoneguard.sim.candles import CandleSeries, bar_open

D = Decimal
T0 = 1_700_000_100  # a 5-minute boundary (seconds)


def test_weekly_bars_open_on_monday_and_others_on_their_boundary() -> None:
    monday = 1_699_833_600  # 2023-11-13 00:00 UTC, a Monday
    assert bar_open(monday + 3 * 86_400 + 5, 604_800) == monday
    assert bar_open(T0 + 59, 60) == T0
    assert bar_open(T0 + 5, 3_600) == T0 - T0 % 3_600


def test_live_bars_track_open_high_low_close_volume() -> None:
    series = CandleSeries()
    for offset, price in ((0, "100"), (10, "105"), (20, "95"), (30, "101")):
        series.record(D(price), 1, (T0 + offset) * 1000)
    bar = series.live_bar("1m")
    assert bar is not None
    assert (bar.open_s, bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        T0, D(100), D(105), D(95), D(101), 4,
    )  # fmt: skip
    series.record(D(102), 1, (T0 + 60) * 1000)
    assert series.live_bar("1m").open == D(102)  # type: ignore[union-attr]
    assert series.live_bar("5m").volume in (1, 5)  # type: ignore[union-attr]


def test_rest_bars_aggregate_minutes_and_fill_quiet_minutes() -> None:
    series = CandleSeries()
    series.record(D(100), 1, T0 * 1000)
    series.record(D(110), 2, (T0 + 30) * 1000)
    series.record(D(90), 1, (T0 + 60) * 1000)
    series.record(D(95), 1, (T0 + 240) * 1000)  # minutes 2 and 3 had no trade
    bars = series.bars(1, T0, T0 + 600)
    assert [b.open_s - T0 for b in bars] == [0, 60, 120, 180, 240]
    assert [(b.open, b.close, b.volume) for b in bars] == [
        (D(100), D(110), 3),
        (D(90), D(90), 1),
        (D(90), D(90), 0),
        (D(90), D(90), 0),
        (D(95), D(95), 1),
    ]
    start = bar_open(T0, 300)
    assert start == T0
    (five,) = [b for b in series.bars(5, start, start) if b.open_s == start]
    assert (five.high, five.low) == (D(110), D(90))
    assert series.bars(1, T0 - 600, T0 - 60) == []  # nothing before the first price


def test_24h_volume_forgets_old_minutes() -> None:
    series = CandleSeries()
    series.record(D(100), 5, T0 * 1000)
    series.record(D(120), 2, (T0 + 3_600) * 1000)
    assert series.volume_24h == 7
    assert series.open_24h() == D(100)
    series.record(D(130), 1, (T0 + 86_400 + 120) * 1000)
    assert series.volume_24h == 3
    assert series.open_24h() == D(120)
