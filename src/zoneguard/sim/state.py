"""Everything one running simulator holds, shared by its REST, websocket and control sides."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Protocol

from zoneguard.sim.auth import Credentials
from zoneguard.sim.config import SimConfig
from zoneguard.sim.contracts import contract_for
from zoneguard.sim.engine import Engine, IdSource
from zoneguard.sim.faults import FaultState
from zoneguard.sim.model import ONE_WAY_MODE, AccountEvents, PriceUpdate
from zoneguard.sim.ratelimit import RateLimiter
from zoneguard.sim.replay import ReplayRunner
from zoneguard.sim.ws import Hub, WsSettings


class Feed(Protocol):
    """A wire dialect's push side: it hears every price change and every account change."""

    def publish_market(self, update: PriceUpdate) -> None: ...

    def publish_account(self, events: AccountEvents) -> None: ...


class SimState:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.credentials = Credentials(config.api_key, config.api_secret, config.api_memo)
        self.ids = IdSource()
        self.faults = FaultState()
        self.limiter = RateLimiter(enforce=config.rate_limits)
        self.requests: Counter[str] = Counter()
        self.engine = self._new_engine()
        self.hub = Hub(
            WsSettings(config.ws_idle_timeout_s, config.ws_lifeless_timeout_s),
            self.credentials,
            lambda: self.engine,
            self.faults,
        )
        self.feeds: list[Feed] = [self.hub]
        """Who pushes engine events: BitMart's hub, or the dialect the server speaks."""
        self.replay: ReplayRunner | None = None

    def _new_engine(self) -> Engine:
        config = self.config
        contracts = {
            symbol: contract_for(symbol, Decimal(price)) for symbol, price in config.prices.items()
        }
        engine = Engine(
            contracts,
            {symbol: Decimal(price) for symbol, price in config.prices.items()},
            usdt_balance=Decimal(config.usdt_balance),
            maker_fee_rate=Decimal(config.maker_fee_rate),
            taker_fee_rate=Decimal(config.taker_fee_rate),
            post_only_cross=config.post_only_cross,
            ids=self.ids,
            spot_balance=Decimal(config.spot_usdt_balance),
            claim_amount=Decimal(config.claim_usdt),
            liquidity=self.faults.take_liquidity,
        )
        if config.venue == "binance":
            engine.position_mode = ONE_WAY_MODE  # Binance's default position mode
        return engine

    def reset(self) -> None:
        """A fresh account and market at the configured prices; ids keep counting up."""
        self.engine = self._new_engine()
        self.faults.clear()
        self.limiter.reset()
        self.requests.clear()

    def move_price(self, symbol: str, price: Decimal) -> list[int]:
        """Set the last price: public pushes first, then fills and triggers, then their
        account pushes. Returns the ids of the orders that filled."""
        engine = self.engine
        update = engine.set_price(symbol, price)
        for feed in self.feeds:
            feed.publish_market(update)
        filled = engine.match(symbol)
        self.publish_account()
        return filled

    def publish_account(self) -> None:
        events = self.engine.take_events()
        for feed in self.feeds:
            feed.publish_account(events)

    def cancel_expired(self) -> None:
        """Run out ``cancel-all-after`` timers (the server calls this a few times a second)."""
        if self.engine.cancel_expired():
            self.publish_account()
