"""Incremental depth: snapshot + consecutive updates rebuild the published ladder."""

from __future__ import annotations

from zoneguard.sim.depth_stream import FIRST_VERSION, DepthStream, Levels


def rebuild(book: dict[int, int], changes: Levels) -> None:
    for ticks, volume in changes:
        if volume:
            book[ticks] = volume
        else:
            del book[ticks]


def test_updates_list_changed_levels_with_zero_for_gone_ones_best_first() -> None:
    stream = DepthStream([(100, 5), (99, 6)], [(101, 5), (102, 6)])
    first = stream.snapshot()
    assert (first.version, first.bids, first.asks) == (
        FIRST_VERSION,
        [(100, 5), (99, 6)],
        [(101, 5), (102, 6)],
    )
    update = stream.advance([(101, 5), (100, 6)], [(102, 5), (103, 6)])
    assert update.version == FIRST_VERSION + 1
    assert update.bids == [(101, 5), (100, 6), (99, 0)]
    assert update.asks == [(101, 0), (102, 5), (103, 6)]
    quiet = stream.advance([(101, 5), (100, 6)], [(102, 5), (103, 6)])
    assert (quiet.version, quiet.bids, quiet.asks) == (FIRST_VERSION + 2, [], [])


def test_snapshot_plus_updates_equals_the_latest_ladder() -> None:
    ladders = [
        ([(100, 1), (99, 2)], [(101, 1), (102, 2)]),
        ([(98, 3)], [(99, 1), (100, 4)]),
        ([(100, 7), (98, 3)], [(103, 1)]),
    ]
    stream = DepthStream(*ladders[0])
    start = stream.snapshot()
    bids, asks = dict(start.bids), dict(start.asks)
    for new_bids, new_asks in ladders[1:]:
        update = stream.advance(new_bids, new_asks)
        rebuild(bids, update.bids)
        rebuild(asks, update.asks)
    latest = stream.snapshot()
    assert (
        (bids, asks)
        == (dict(latest.bids), dict(latest.asks))
        == (
            dict(ladders[-1][0]),
            dict(ladders[-1][1]),
        )
    )
    assert latest.version == start.version + 2
