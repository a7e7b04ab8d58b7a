"""The silent-feed watch's decisions: the REST budget's sliding window, and how the budget
is shared when it cannot serve every silent symbol at its interval."""

from __future__ import annotations

from decimal import Decimal

import pytest

from zoneguard.domain.market import PriceTick
from zoneguard.domain.triggers import TriggerIndex
from zoneguard.domain.values import Side, Symbol
from zoneguard.exchange.bitmart.adapter import LAST_PRICE_BUDGET, BitMartExchange
from zoneguard.exchange.bitmart.settings import BitMartSettings
from zoneguard.exchange.port import RateBudget
from zoneguard.worker.config import OrdersSection
from zoneguard.worker.feed_watch import FeedWatch, RestBudget
from zoneguard.worker.markets import Markets
from zoneguard.worker.metrics import Metrics

BTC, ETH, SOL = Symbol("BTCUSDT"), Symbol("ETHUSDT"), Symbol("SOLUSDT")


def test_the_budget_counts_a_sliding_window() -> None:
    budget = RestBudget(RateBudget(calls=3, window_s=2.0))
    for at in (10.0, 10.5, 11.0):
        assert budget.free(at) > 0
        budget.spend(at)
    assert budget.free(11.9) == 0
    assert budget.next_free_at(11.9) == 12.0  # the oldest leaves the window
    assert budget.free(12.0) == 1
    assert budget.free(13.0) == 3


def test_bitmart_allows_one_stop_at_100_ms_within_its_public_limits() -> None:
    # Two public endpoints of 12 calls / 2 s each, 10 of each used for prices.
    assert LAST_PRICE_BUDGET.calls / LAST_PRICE_BUDGET.window_s == 10


def make_watch(**guards: tuple[str, str]) -> FeedWatch:
    """A watch over long positions: ``SYMBOL=(price, stop)``."""
    markets = Markets(BitMartExchange(BitMartSettings()))
    index = TriggerIndex()
    for name, (price, stop) in guards.items():
        symbol = Symbol(name)
        markets.update_from_tick(PriceTick(symbol, Decimal(price)))
        index.for_symbol(symbol).add_guard(f"pos-{name}", Side.LONG, Decimal(stop), None)
    names = [Symbol(name) for name in guards]
    return FeedWatch(markets, index, lambda: names, OrdersSection(), lambda *a: None, Metrics())


def test_every_silent_symbol_is_asked_at_its_interval_while_the_budget_allows() -> None:
    watch = make_watch(BTCUSDT=("64100", "64000"))
    assert watch.spacing({BTC: 0.1}, now=1.0) == {BTC: 0.1}


def test_a_short_budget_goes_to_the_nearest_stop_and_leaves_a_floor_to_the_others() -> None:
    watch = make_watch(
        BTCUSDT=("64100", "64000"),  # 0.16 % above its stop
        ETHUSDT=("3020", "2900"),  # 4 %
        SOLUSDT=("150", "140"),  # 6.7 %
    )
    spacing = watch.spacing({ETH: 0.1, SOL: 0.1, BTC: 0.1}, now=1.0)
    rates = {symbol: 1 / seconds for symbol, seconds in spacing.items()}
    assert list(spacing) == [BTC, ETH, SOL]  # nearest first
    assert sum(rates.values()) == pytest.approx(10)  # the whole budget, no more
    assert rates[ETH] == pytest.approx(2 / 3)  # a fifth of the budget, shared evenly
    assert rates[SOL] == pytest.approx(2 / 3)
    assert rates[BTC] == pytest.approx(10 - 4 / 3)


def test_a_target_only_symbol_is_asked_at_the_take_profit_interval() -> None:
    watch = make_watch(BTCUSDT=("64100", "64000"))
    watch.index.for_symbol(ETH).add_guard("pos-eth", Side.LONG, None, Decimal(3300))
    assert watch.interval_s(BTC) == 0.1
    assert watch.interval_s(ETH) == 0.5
