"""The silent-feed watch: a guarded symbol whose price feed has said nothing for longer than
its ``check_interval_ms`` gets its price by REST, run through the guard like any update.

Each guarded symbol is asked at its own interval: the stop-loss's where a stop is guarded,
the take-profit's where only targets are. The asks of all symbols share the venue's REST
budget for last prices (:attr:`ExchangePort.last_price_budget`); when it cannot serve every
silent symbol at its interval, the symbols whose price is nearest a stop go first and the
log says that the budget is the limit. Nearest first, but never none: a fifth of the
budget is shared evenly (:data:`FLOOR_SHARE`), so a stop 4 % away is still asked about once
a second while one 0.2 % away takes the rest.

The log tells state changes, not polls: a feed silent for :data:`SILENCE_LOGGED_AFTER_S`
(WARNING, once, with since when) and its return (INFO, once, how long and how many REST
prices were used). Shorter gaps are a quiet market (BitMart re-sends a ticker that does
not move about once a second): they are served by REST all the same and counted in
``zoneguard_rest_price_fallbacks_total``, without a line.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from zoneguard.domain.triggers import TriggerIndex
from zoneguard.domain.values import Symbol
from zoneguard.exchange.errors import ExchangeError
from zoneguard.exchange.port import RateBudget
from zoneguard.worker.config import OrdersSection
from zoneguard.worker.logs import sltp_logger
from zoneguard.worker.markets import Markets
from zoneguard.worker.metrics import Metrics

log = sltp_logger()

SILENCE_LOGGED_AFTER_S = 2.0
"""A feed silent this long is logged as silent (and its return too)."""

RECONNECT_AFTER_S = 5.0
"""A price feed silent this long (while positions are guarded) is reconnected."""

BUDGET_LOG_EVERY_S = 60.0
"""The budget being the limit is logged at most this often (it can come and go with every
quiet second of several markets)."""

FLOOR_SHARE = 0.2
"""When the budget is short, this part of it is shared evenly by the silent symbols, so a
stop far from its price is still asked now and then while the nearest takes the rest."""

MIN_STEP_S = 0.005
"""Shortest pause between two looks: the loop never spins."""

PriceSink = Callable[[Symbol, Decimal, int], None]
"""Where a REST price goes: ``(symbol, price, monotonic ns)``, as a feed update would."""


class RestBudget:
    """At most ``calls`` asks in any ``window_s`` seconds (a sliding window, so no fixed
    window of the venue's can see more either)."""

    def __init__(self, budget: RateBudget) -> None:
        self.budget = budget
        self._spent: deque[float] = deque()

    def free(self, now: float) -> int:
        self._forget(now)
        return max(0, self.budget.calls - len(self._spent))

    def spend(self, now: float) -> None:
        self._spent.append(now)

    def next_free_at(self, now: float) -> float:
        """When the next ask fits (``now`` if one does)."""
        self._forget(now)
        if len(self._spent) < self.budget.calls:
            return now
        return self._spent[0] + self.budget.window_s

    def _forget(self, now: float) -> None:
        spent, horizon = self._spent, now - self.budget.window_s
        while spent and spent[0] <= horizon:
            spent.popleft()


@dataclass(slots=True)
class Silence:
    """One stretch of a symbol's feed saying nothing for longer than its interval."""

    since_monotonic: float
    """When the feed last spoke."""
    since_wall: float
    rest_prices: int = 0
    failures: int = 0
    logged: bool = False


class FeedWatch:
    def __init__(
        self,
        markets: Markets,
        index: TriggerIndex,
        guarded: Callable[[], Collection[Symbol]],
        config: OrdersSection,
        on_price: PriceSink,
        metrics: Metrics,
    ) -> None:
        self.markets = markets
        self.index = index
        self.guarded = guarded
        self.on_price = on_price
        self.metrics = metrics
        self.stop_interval_s = config.stop_loss.check_interval_ms / 1000
        self.target_interval_s = config.take_profit.check_interval_ms / 1000
        self._budget: RestBudget | None = None
        self.silences: dict[Symbol, Silence] = {}
        self._asked_at: dict[Symbol, float] = {}
        self._asking: set[Symbol] = set()
        self._rest_price: dict[Symbol, Decimal] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._last_reconnect = float("-inf")
        self._budget_logged_at = float("-inf")
        self._budget_short = False

    @property
    def budget(self) -> RestBudget:
        """The venue's last-price budget, read when first needed (a service that is built
        but never started asks nothing of its exchange)."""
        if self._budget is None:
            self._budget = RestBudget(self.markets.exchange.last_price_budget)
        return self._budget

    # -- life
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                pause = self.step(time.monotonic())
            except Exception:
                # A dead watch would leave every position blind to a stalled feed.
                log.critical("SLTP silent-feed watch step failed; going on", exc_info=True)
                pause = self.stop_interval_s
            await asyncio.sleep(pause)

    # -- one look
    def interval_s(self, symbol: Symbol) -> float:
        """The longest silence accepted for ``symbol``: the stop-loss's while a stop is
        guarded there, else the take-profit's."""
        triggers = self.index.get(symbol)
        if triggers is not None and any(g.stop_loss is not None for g in triggers.guards()):
            return self.stop_interval_s
        return self.target_interval_s

    def step(self, now: float) -> float:
        """Ask by REST for every silent symbol that is due (within the budget), log the
        feeds that went silent or came back; returns how long to wait before the next look."""
        guarded = set(self.guarded())
        for symbol in [s for s in self.silences if s not in guarded]:
            self._end(symbol, now, back=False)
        wake = now + min(self.stop_interval_s, self.target_interval_s)
        silent: dict[Symbol, float] = {}
        for symbol in guarded:
            interval = self.interval_s(symbol)
            quiet = self.markets.silence_s(symbol)
            if quiet <= interval:
                if symbol in self.silences:
                    self._end(symbol, now, back=True)
                wake = min(wake, now + interval - quiet)
                continue
            self._note_silent(symbol, now, quiet)
            silent[symbol] = interval
        due: list[Symbol] = []
        for symbol, spacing in self.spacing(silent, now).items():
            ready_at = self._asked_at.get(symbol, float("-inf")) + spacing
            if symbol not in self._asking and ready_at <= now:
                due.append(symbol)
            else:
                wake = min(wake, max(ready_at, now + MIN_STEP_S))
        if due:
            wake = min(wake, self._serve(due, now))
        return max(MIN_STEP_S, wake - now)

    def spacing(self, silent: dict[Symbol, float], now: float) -> dict[Symbol, float]:
        """Seconds between two asks of each silent symbol: its interval while the budget
        allows every one; else the budget's rate is shared out nearest stop first, each
        symbol keeping a floor of :data:`FLOOR_SHARE` of it split evenly."""
        budget = self.budget.budget
        rate = budget.calls / budget.window_s
        wanted = sum(1 / interval for interval in silent.values())
        if wanted <= rate:
            self._budget_short = False
            return silent
        floor = rate * FLOOR_SHARE / len(silent)
        left = rate - sum(min(1 / interval, floor) for interval in silent.values())
        spacing: dict[Symbol, float] = {}
        for symbol in sorted(silent, key=self.distance):
            want = 1 / silent[symbol]
            extra = max(0.0, min(want - min(want, floor), left))
            left -= extra
            spacing[symbol] = 1 / (min(want, floor) + extra)
        if not self._budget_short and now - self._budget_logged_at >= BUDGET_LOG_EVERY_S:
            self._budget_logged_at = now
            log.warning(
                "SLTP REST price budget (%d per %.0f s) is the limit for %d silent symbols; "
                "nearest their stop first: %s",
                budget.calls,
                budget.window_s,
                len(silent),
                ", ".join(f"{s} every {round(v * 1000)} ms" for s, v in spacing.items()),
            )
        self._budget_short = True
        return spacing

    def _serve(self, due: list[Symbol], now: float) -> float:
        """Ask for as many of ``due`` as the budget allows, nearest a stop first; returns
        when the next one fits."""
        free = self.budget.free(now)
        due.sort(key=self.distance)
        for symbol in due[:free]:
            self.budget.spend(now)
            self._asked_at[symbol] = now
            self._asking.add(symbol)
            self._spawn(self._ask(symbol))
        if len(due) > free:
            return self.budget.next_free_at(now)
        return now + self.stop_interval_s

    def distance(self, symbol: Symbol) -> Decimal:
        """How far the price is from the nearest stop of ``symbol``, as a fraction of the
        price (targets count where no stop is guarded)."""
        price = self._rest_price.get(symbol)
        quote = self.markets.quote(symbol)
        if price is None and quote is not None:
            price = quote.last
        triggers = self.index.get(symbol)
        if price is None or price <= 0 or triggers is None:
            return Decimal(0)
        guards = triggers.guards()
        levels = [g.stop_loss for g in guards if g.stop_loss is not None]
        if not levels:
            levels = [g.take_profit for g in guards if g.take_profit is not None]
        if not levels:
            return Decimal("Infinity")
        return min(abs(price - level) for level in levels) / price

    # -- asking
    async def _ask(self, symbol: Symbol) -> None:
        try:
            price = await self.markets.exchange.last_price(symbol)
        except ExchangeError as exc:
            self._failed(symbol, exc)
            return
        finally:
            self._asking.discard(symbol)
        if self.markets.silence_s(symbol) <= self.interval_s(symbol):
            return  # the feed spoke meanwhile: its price is fresher
        self._rest_price[symbol] = price
        silence = self.silences.get(symbol)
        if silence is not None:
            silence.rest_prices += 1
        self.metrics.rest_price_fallbacks.inc()
        log.debug("SLTP feed of %s silent: REST price %s", symbol, price)
        self.on_price(symbol, price, time.monotonic_ns())
        await self._revive_feed(symbol)

    def _failed(self, symbol: Symbol, exc: ExchangeError) -> None:
        silence = self.silences.get(symbol)
        if silence is not None:
            silence.failures += 1
            if silence.failures > 1:
                log.debug("SLTP REST price of %s failed again: %s", symbol, exc)
                return
        log.warning("SLTP REST price of %s failed: %s", symbol, exc)

    async def _revive_feed(self, symbol: Symbol) -> None:
        """A feed silent for much longer than the guard tolerates is reconnected (at most
        once per ``RECONNECT_AFTER_S``): the REST price keeps the guard alive meanwhile."""
        now = time.monotonic()
        if self.markets.silence_s(symbol) < RECONNECT_AFTER_S:
            return
        if now - self._last_reconnect < RECONNECT_AFTER_S:
            return
        self._last_reconnect = now
        log.warning("SLTP feed of %s silent for %.1fs: reconnecting", symbol, RECONNECT_AFTER_S)
        try:
            await self.markets.exchange.reconnect_streams()
        except ExchangeError as exc:
            log.warning("SLTP reconnect failed: %s", exc)

    # -- state changes
    def _note_silent(self, symbol: Symbol, now: float, quiet: float) -> None:
        silence = self.silences.get(symbol)
        if silence is None:
            silence = self.silences[symbol] = Silence(now - quiet, time.time() - quiet)
        if not silence.logged and quiet >= SILENCE_LOGGED_AFTER_S:
            silence.logged = True
            log.warning(
                "SLTP feed of %s silent since %s (%.1f s): guarding on REST prices, "
                "asked every %d ms",
                symbol,
                _utc(silence.since_wall),
                quiet,
                round(self.interval_s(symbol) * 1000),
            )

    def _end(self, symbol: Symbol, now: float, *, back: bool) -> None:
        silence = self.silences.pop(symbol)
        self._rest_price.pop(symbol, None)
        if not back:
            self._asked_at.pop(symbol, None)
        if not silence.logged:
            return
        lasted = now - silence.since_monotonic
        failed = f", {silence.failures} failed" if silence.failures else ""
        if back:
            log.info(
                "SLTP feed of %s back after %.1f s silent: %d REST prices used%s",
                symbol,
                lasted,
                silence.rest_prices,
                failed,
            )
        else:
            log.info(
                "SLTP feed of %s silent for %.1f s, no longer guarded there: %d REST prices used%s",
                symbol,
                lasted,
                silence.rest_prices,
                failed,
            )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.critical("SLTP REST price task crashed", exc_info=task.exception())


def _utc(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")
