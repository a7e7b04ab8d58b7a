"""BitMart websocket topic names and timeframe spellings, in one place.

The rest of the system speaks venue-neutral timeframes (``1m 5m 15m 30m 1h 2h 4h 1d 1w``);
BitMart's channels spell hours, days and weeks in upper case (``klineBin1H``).
"""

from __future__ import annotations

from zoneguard.exchange.errors import InvalidRequest

TICKER_PREFIX = "futures/ticker"
KLINE_PREFIX = "futures/klineBin"
ORDER_TOPIC = "futures/order"
POSITION_TOPIC = "futures/position"
ASSET_PREFIX = "futures/asset:"
ACCOUNT_TOPICS = (ORDER_TOPIC, POSITION_TOPIC, f"{ASSET_PREFIX}USDT")

_VENUE_BY_NEUTRAL = {
    "1m": "1m",
    "5m": "5m",
    "15m": "15m",
    "30m": "30m",
    "1h": "1H",
    "2h": "2H",
    "4h": "4H",
    "1d": "1D",
    "1w": "1W",
}
_NEUTRAL_BY_VENUE = {venue: neutral for neutral, venue in _VENUE_BY_NEUTRAL.items()}
_MINUTES_BY_NEUTRAL = {
    "1m": 1,
    "5m": 5,
    "15m": 15,
    "30m": 30,
    "1h": 60,
    "2h": 120,
    "4h": 240,
    "1d": 1440,
    "1w": 10080,
}

NEUTRAL_TIMEFRAMES = tuple(_VENUE_BY_NEUTRAL)


def venue_timeframe(timeframe: str) -> str:
    """``1h`` -> ``1H``; also accepts BitMart's own spelling. Unknown -> InvalidRequest."""
    if timeframe in _VENUE_BY_NEUTRAL:
        return _VENUE_BY_NEUTRAL[timeframe]
    if timeframe in _NEUTRAL_BY_VENUE:
        return timeframe
    raise InvalidRequest(
        f"unsupported timeframe {timeframe!r}; expected one of {', '.join(NEUTRAL_TIMEFRAMES)}"
    )


def neutral_timeframe(venue_spelling: str) -> str:
    """``1H`` -> ``1h``; an unknown spelling is lower-cased rather than dropped."""
    return _NEUTRAL_BY_VENUE.get(venue_spelling, venue_spelling.lower())


def kline_step_minutes(timeframe: str) -> int:
    """The REST kline ``step`` (minutes) for a venue-neutral timeframe."""
    neutral = neutral_timeframe(venue_timeframe(timeframe))
    return _MINUTES_BY_NEUTRAL[neutral]


def ticker_topic(symbol: str) -> str:
    return f"{TICKER_PREFIX}:{symbol}"


def kline_topic(symbol: str, timeframe: str) -> str:
    return f"{KLINE_PREFIX}{venue_timeframe(timeframe)}:{symbol}"


def strip_throttle_suffix(group: str) -> str:
    """``futures/ticker:AXONUSDT@100ms`` -> ``futures/ticker:AXONUSDT``."""
    at = group.rfind("@")
    if at != -1 and group.endswith("ms") and group[at + 1 : -2].isdigit():
        return group[:at]
    return group


def split_topic(group: str) -> tuple[str, str | None]:
    """``futures/klineBin1H:ETHUSDT`` -> (``futures/klineBin1H``, ``ETHUSDT``)."""
    channel, sep, argument = group.partition(":")
    return channel, (argument if sep else None)
