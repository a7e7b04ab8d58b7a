"""Where BitMart lives and which key to use: environment -> :class:`BitMartSettings`.

Secrets (key, secret, memo) never appear in a repr, so a settings object can be logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

PRODUCTION_REST_URL = "https://api-cloud-v2.bitmart.com"
PRODUCTION_SYSTEM_URL = "https://api-cloud.bitmart.com"  # /system/time lives on the spot host
PRODUCTION_WS_PUBLIC_URL = "wss://openapi-ws-v2.bitmart.com/api?protocol=1.1"
PRODUCTION_WS_PRIVATE_URL = "wss://openapi-ws-v2.bitmart.com/user?protocol=1.1"
DEMO_REST_URL = "https://demo-api-cloud-v2.bitmart.com"
DEMO_WS_PUBLIC_URL = "wss://openapi-wsdemo-v2.bitmart.com/api?protocol=1.1"
DEMO_WS_PRIVATE_URL = "wss://openapi-wsdemo-v2.bitmart.com/user?protocol=1.1"
_BITMART_REST_HOSTS = (PRODUCTION_REST_URL, DEMO_REST_URL)


@dataclass(frozen=True, repr=False)
class BitMartSettings:
    api_key: str = field(default="")
    api_secret: str = field(default="")
    api_memo: str = field(default="")
    rest_url: str = PRODUCTION_REST_URL
    ws_public_url: str = PRODUCTION_WS_PUBLIC_URL
    ws_private_url: str = PRODUCTION_WS_PRIVATE_URL
    system_url: str | None = None
    """Host of ``GET /system/time``; None = BitMart's spot host for BitMart, else ``rest_url``."""
    rest_timeout_s: float = 10.0
    ping_interval_s: float = 10.0
    silence_timeout_s: float = 20.0
    reconnect_initial_s: float = 0.1
    reconnect_max_s: float = 5.0
    ack_timeout_s: float = 5.0
    order_connections: int = 2
    """Warm connections kept for orders, which then leave the moment they are decided
    (see ``lane.py``); 0 sends every request through the pooled aiohttp session."""

    def __repr__(self) -> str:
        return (
            f"BitMartSettings(rest_url={self.rest_url!r}, ws_public_url={self.ws_public_url!r}, "
            f"ws_private_url={self.ws_private_url!r}, credentials="
            f"{'set' if self.has_credentials else 'missing'})"
        )

    __str__ = __repr__

    @property
    def has_credentials(self) -> bool:
        return bool(self.api_key and self.api_secret and self.api_memo)

    @property
    def resolved_system_url(self) -> str:
        if self.system_url:
            return self.system_url
        if self.rest_url.rstrip("/") in _BITMART_REST_HOSTS:
            return PRODUCTION_SYSTEM_URL
        return self.rest_url

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BitMartSettings:
        """``BITMART_API_KEY/SECRET/MEMO``, ``BITMART_REST_URL``, ``BITMART_WS_PUBLIC_URL``,
        ``BITMART_WS_PRIVATE_URL`` (and optionally ``BITMART_SYSTEM_URL``); unset or empty
        endpoints fall back to BitMart production."""
        source = os.environ if env is None else env

        def value(name: str, default: str) -> str:
            return source.get(name) or default

        return cls(
            api_key=value("BITMART_API_KEY", ""),
            api_secret=value("BITMART_API_SECRET", ""),
            api_memo=value("BITMART_API_MEMO", ""),
            rest_url=value("BITMART_REST_URL", PRODUCTION_REST_URL),
            ws_public_url=value("BITMART_WS_PUBLIC_URL", PRODUCTION_WS_PUBLIC_URL),
            ws_private_url=value("BITMART_WS_PRIVATE_URL", PRODUCTION_WS_PRIVATE_URL),
            system_url=source.get("BITMART_SYSTEM_URL") or None,
        )

    @classmethod
    def demo(cls, api_key: str, api_secret: str, api_memo: str) -> BitMartSettings:
        """BitMart's simulated-trading hosts (same keys as production)."""
        return cls(
            api_key=api_key,
            api_secret=api_secret,
            api_memo=api_memo,
            rest_url=DEMO_REST_URL,
            ws_public_url=DEMO_WS_PUBLIC_URL,
            ws_private_url=DEMO_WS_PRIVATE_URL,
        )
