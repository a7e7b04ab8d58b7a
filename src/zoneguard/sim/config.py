"""Settings of one simulator instance."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal


def _default_prices() -> dict[str, Decimal]:
    return {"BTCUSDT": Decimal(65000), "ETHUSDT": Decimal(3000), "SOLUSDT": Decimal(180)}


Venue = Literal["bitmart", "binance"]
"""Which exchange's wire dialect the simulator speaks (one engine under both)."""


@dataclass
class SimConfig:
    venue: Venue = "bitmart"
    host: str = "127.0.0.1"
    port: int = 8090  # 0 = pick a free port
    api_key: str = "sim-key"
    api_secret: str = "sim-secret"
    api_memo: str = "sim-memo"
    prices: dict[str, Decimal] = field(default_factory=_default_prices)  # initial last prices
    usdt_balance: Decimal = Decimal(100000)
    spot_usdt_balance: Decimal = Decimal(100000)
    """The spot wallet ``/account/v1/transfer-contract`` moves USDT from and to."""
    claim_usdt: Decimal = Decimal(10000)
    """What one demo ``POST /contract/private/claim`` adds to the futures wallet."""
    post_only_cross: Literal["reject", "cancel"] = "cancel"
    """A maker-only order that would take liquidity: "cancel" accepts it then cancels it
    unfilled (state 4, order push action 3), the behaviour PROTOCOL.md suggests; "reject"
    refuses it with 40011 (BitMart never documented which one it does)."""
    replay_file: Path | None = None
    replay_symbol: str = "BTCUSDT"
    replay_speed: float = 60.0  # historical minutes per real minute
    rate_limits: bool = True
    ws_idle_timeout_s: float = 20.0
    ws_lifeless_timeout_s: float = 5.0
    position_push_interval_s: float = 10.0
    maker_fee_rate: Decimal = Decimal("0.0002")
    taker_fee_rate: Decimal = Decimal("0.0006")
    funding_push_interval_s: float = 60.0
    """``futures/fundingRate`` pushes this often, as BitMart's "every minute" (0: never)."""
    ticker_refresh_s: float = 1.0
    """Re-push subscribed tickers this often even without a trade, as BitMart does (0: never)."""
    strict_types: bool = True
    """Refuse (40007) a JSON body field of another JSON type than BitMart's (``"size": "1"``,
    ``"price": 65000``); False accepts numbers and numeric strings alike."""
    binance_listen_key_validity_s: float = 3600.0
    """A Binance listenKey not extended (``PUT /fapi/v1/listenKey``) for this long expires:
    its private connections get ``listenKeyExpired`` and are closed (Binance: 60 minutes)."""
    binance_ws_ping_interval_s: float = 180.0
    """The Binance dialect sends a websocket ping frame this often (Binance: 3 minutes)."""
    binance_ws_pong_timeout_s: float = 600.0
    """A Binance-dialect connection silent (no pong, no frame) this long is dropped (10 min)."""
    binance_ws_max_lifetime_s: float = 86400.0
    """A Binance-dialect connection is closed after this long (Binance: 24 hours)."""
    binance_ws_max_messages_per_s: int = 10
    """Incoming messages a second a Binance-dialect connection may send before it is
    disconnected (Binance: 10; 0: no limit)."""
    binance_mark_price_push_s: float = 1.0
    """How often subscribed ``@markPrice@1s`` streams are re-pushed without a price change
    (``@markPrice`` every third time: Binance's 3 s); 0: only on a price change."""
