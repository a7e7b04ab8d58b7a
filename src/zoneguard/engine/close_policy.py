"""Which close order to send, and what to do when one comes back short: the rules the
stop-loss / take-profit monitor and the take-profit rungs used to take inline.

* A take-profit closes first with a reduce-only limit IOC no worse than its target less
  the take-profit tolerance (the seed's "slippage tolerance"); whatever that IOC does not
  fill, or a refusal of it, goes at market at once: a refused limit must never hold a
  target up.
* A stop (the stop-loss, break-even or trailing stop) and a manual close go at market
  from the first attempt: their slippage is measured and reported, never allowed to delay
  them.
* A market close the venue refuses is tried again after a back-off, for as long as there
  is something to close (the whole position's close), or up to ``RUNG_REFUSALS`` times (a
  rung of the ladder: the stop still guards what it leaves).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from zoneguard.domain.pricing import take_profit_limit
from zoneguard.domain.values import Side

TAKE_PROFIT = "take_profit"
RUNG_REFUSALS = 3
"""Refusals of a rung's market close before the rung gives up (the stop still guards)."""


def first_close_limit(
    reason: str,
    side: Side,
    level: Decimal | None,
    tolerance_percent: Decimal,
    tick: Decimal | None,
) -> Decimal | None:
    """The limit of a close's first attempt, None for market: only a take-profit with a
    known target and the contract's tick (never looked up: market) gets a limit IOC."""
    if reason != TAKE_PROFIT or level is None or tick is None:
        return None
    return take_profit_limit(side, level, tolerance_percent, tick)


class NextClose(StrEnum):
    MARKET_NOW = "market_now"
    """Send what is left at market, at once, under a new client id."""
    RETRY_LATER = "retry_later"
    """Send it again at market after a back-off, under a new client id."""
    GIVE_UP = "give_up"
    """Stop trying (a rung): the stop guards what is left."""
    DONE = "done"
    """Nothing of this close is left to send: settle it."""


def after_refusal(*, limited: bool, refusals: int, limit: int | None = None) -> NextClose:
    """The venue refused an attempt (it never existed). ``limited``: it was the limit IOC;
    ``refusals``: market refusals in a row, this one included; ``limit``: how many a
    market close may take (None: no end while the position is open)."""
    if limited:
        return NextClose.MARKET_NOW
    if limit is not None and refusals >= limit:
        return NextClose.GIVE_UP
    return NextClose.RETRY_LATER


def after_fill(*, limited: bool, sent_for: Decimal, filled: Decimal) -> NextClose:
    """An attempt is final having filled ``filled`` of ``sent_for``: a limit IOC's rest
    goes at market at once; a market close's outcome is settled by the caller (by the
    venue's position for the whole close, as it is for a rung)."""
    if filled < 0 or filled > sent_for:
        raise ValueError(f"filled {filled} is outside 0..{sent_for}")
    if limited and filled < sent_for:
        return NextClose.MARKET_NOW
    return NextClose.DONE
