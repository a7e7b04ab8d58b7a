"""Where Binance USDⓈ-M lives and which key to use: environment -> :class:`BinanceSettings`.

Hosts (research §A.1): REST ``https://fapi.binance.com``; websockets on
``wss://fstream.binance.com`` split since 2026-03 into routes ``/public`` (book data),
``/market`` (trades, mark price, klines) and ``/private`` (user data). Binance's "Demo
Trading" is ``https://demo-fapi.binance.com`` with streams on
``wss://fstream.binancefuture.com``. Secrets never appear in a repr.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

PRODUCTION_REST_URL = "https://fapi.binance.com"
PRODUCTION_WS_URL = "wss://fstream.binance.com"
DEMO_REST_URL = "https://demo-fapi.binance.com"
DEMO_WS_URL = "wss://fstream.binancefuture.com"


@dataclass(frozen=True, repr=False)
class BinanceSettings:
    api_key: str = field(default="")
    api_secret: str = field(default="")
    rest_url: str = PRODUCTION_REST_URL
    ws_url: str = PRODUCTION_WS_URL
    """The streams' host; the routes ``/public``, ``/market``, ``/private`` go after it."""
    rest_timeout_s: float = 10.0
    recv_window_ms: int = 5000
    silence_timeout_s: float = 30.0
    reconnect_initial_s: float = 0.1
    reconnect_max_s: float = 5.0
    listen_key_keepalive_s: float = 30 * 60.0
    """A listenKey lives 60 minutes; it is extended every 30 (Binance's advice)."""

    def __repr__(self) -> str:
        return (
            f"BinanceSettings(rest_url={self.rest_url!r}, ws_url={self.ws_url!r}, "
            f"credentials={'set' if self.has_credentials else 'missing'})"
        )

    __str__ = __repr__

    @property
    def has_credentials(self) -> bool:
        return bool(self.api_key and self.api_secret)

    def route(self, name: str) -> str:
        """The websocket base of a route: ``public``, ``market`` or ``private``."""
        return f"{self.ws_url.rstrip('/')}/{name}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BinanceSettings:
        """``BINANCE_API_KEY/SECRET``, ``BINANCE_REST_URL``, ``BINANCE_WS_URL``; unset or
        empty endpoints fall back to Binance production."""
        source = os.environ if env is None else env
        return cls(
            api_key=source.get("BINANCE_API_KEY", ""),
            api_secret=source.get("BINANCE_API_SECRET", ""),
            rest_url=source.get("BINANCE_REST_URL") or PRODUCTION_REST_URL,
            ws_url=source.get("BINANCE_WS_URL") or PRODUCTION_WS_URL,
        )

    @classmethod
    def demo(cls, api_key: str, api_secret: str) -> BinanceSettings:
        """Binance's Demo Trading hosts (keys made on demo.binance.com)."""
        return cls(
            api_key=api_key, api_secret=api_secret, rest_url=DEMO_REST_URL, ws_url=DEMO_WS_URL
        )
