"""The engine's records, in BitMart's own terms (sides 1..4, states 1/2/4, whole contracts).

Mutable records (Order, Position, PlanOrder) belong to the engine; events carry copies
taken at the moment they happened, so a push never shows a later state.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

OPEN_LONG = 1
CLOSE_SHORT = 2
CLOSE_LONG = 3
OPEN_SHORT = 4
SIDES = (OPEN_LONG, CLOSE_SHORT, CLOSE_LONG, OPEN_SHORT)

LONG = 1
SHORT = 2

MODE_GTC = 1
MODE_FOK = 2
MODE_IOC = 3
MODE_MAKER_ONLY = 4
MODES = (MODE_GTC, MODE_FOK, MODE_IOC, MODE_MAKER_ONLY)

STATE_LIVE = 2
STATE_FINISHED = 4

ACTION_FILL = 1
ACTION_SUBMIT = 2
ACTION_CANCEL = 3

PRICE_WAY_RISE = 1
"""A trigger that fires when the price rises to it (last >= trigger)."""
PRICE_WAY_FALL = 2
"""A trigger that fires when the price falls to it (last <= trigger)."""

PLAN_STATE_ACTIVE = 1
PLAN_STATE_TRIGGERED = 2
PLAN_STATE_CANCELLED = 4

PositionMode = Literal["hedge_mode", "one_way_mode"]
HEDGE_MODE: PositionMode = "hedge_mode"
ONE_WAY_MODE: PositionMode = "one_way_mode"
"""One position per symbol: sides 1/4 buy/sell (netting an opposite position first), 2/3 are
the reduce-only buy/sell (PROTOCOL §4, §7.1)."""

OrderOrigin = Literal["limit", "market", "take_profit", "stop_loss", "plan_order", "trailing_order"]
"""What the websocket order push calls ``type``: how the order came to be."""

ExecType = Literal["Maker", "Taker"]


def is_buy(side: int) -> bool:
    return side in (OPEN_LONG, CLOSE_SHORT)


def is_opening(side: int) -> bool:
    return side in (OPEN_LONG, OPEN_SHORT)


def position_type_of(side: int) -> int:
    """Which position an order side adds to (1/4) or reduces (2/3), in either mode."""
    return LONG if side in (OPEN_LONG, CLOSE_LONG) else SHORT


def opposite_of(position_type: int) -> int:
    return SHORT if position_type == LONG else LONG


def closing_side_of(position_type: int) -> int:
    return CLOSE_LONG if position_type == LONG else CLOSE_SHORT


@dataclass(slots=True)
class Order:
    order_id: int
    client_order_id: str
    symbol: str
    side: int
    type: Literal["limit", "market"]
    mode: int
    price: Decimal  # 0 for market orders
    size: int
    leverage: Decimal
    open_type: str
    create_time: int
    update_time: int
    origin: OrderOrigin
    seq: int
    state: int = STATE_LIVE
    deal_size: int = 0
    deal_value: Decimal = Decimal(0)  # sum of price x contracts over fills
    fees: Decimal = Decimal(0)
    frozen_margin: Decimal = Decimal(0)  # margin reserved while an opening order rests
    price_ticks: int = 0
    resting: bool = False
    preset_tp: Decimal | None = None
    preset_tp_type: int = 0
    preset_sl: Decimal | None = None
    preset_sl_type: int = 0
    presets_applied: bool = False
    plan_order_id: int | None = None
    trigger_price: Decimal | None = None
    trigger_price_type: int | None = None
    execution_price: Decimal | None = None
    last_fill: Fill | None = None  # every later push of the order repeats it (``last_trade``)
    position_mode: PositionMode = HEDGE_MODE  # the account's mode when it was placed
    activation_price: Decimal | None = None  # set on the order a trailing order sent
    activation_price_type: int = 0
    callback_rate: Decimal | None = None

    @property
    def remaining(self) -> int:
        return self.size - self.deal_size

    @property
    def is_open(self) -> bool:
        return self.state != STATE_FINISHED

    @property
    def deal_avg_price(self) -> Decimal:
        return self.deal_value / self.deal_size if self.deal_size else Decimal(0)

    def snapshot(self) -> Order:
        return copy.copy(self)


@dataclass(slots=True)
class Position:
    symbol: str
    position_type: int
    leverage: Decimal
    open_type: str
    hold: int = 0
    entry_price: Decimal = Decimal(0)
    margin: Decimal = Decimal(0)
    realised_pnl: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    close_volume: int = 0
    close_value: Decimal = Decimal(0)
    pending_close: int = 0  # contracts of resting reduce-only orders
    open_time: int = 0
    update_time: int = 0
    close_order_ids: set[int] = field(default_factory=set)
    plan_ids: set[int] = field(default_factory=set)

    @property
    def close_avg_price(self) -> Decimal:
        return self.close_value / self.close_volume if self.close_volume else Decimal(0)

    def snapshot(self) -> Position:
        clone = copy.copy(self)
        clone.close_order_ids = set()
        clone.plan_ids = set()
        return clone


@dataclass(slots=True)
class PlanOrder:
    """A trigger order: position TP/SL (``plan_category`` 1 or 2) or a plain plan order."""

    order_id: int
    client_order_id: str
    symbol: str
    side: int
    type: Literal["take_profit", "stop_loss", "limit", "market"]
    plan_category: int  # 1 sized TP/SL, 2 whole-position TP/SL, 0 plain plan order
    size: int  # 0 = the whole position
    trigger_price: Decimal
    trigger_ticks: int
    executive_price: Decimal  # 0 = execute at market
    price_type: int
    price_way: int
    mode: int
    leverage: Decimal
    open_type: str
    create_time: int
    update_time: int
    seq: int
    state: int = PLAN_STATE_ACTIVE
    executive_order_id: int | None = None
    preset_tp: Decimal | None = None
    preset_tp_type: int = 0
    preset_sl: Decimal | None = None
    preset_sl_type: int = 0
    position_mode: PositionMode = HEDGE_MODE

    @property
    def is_tp_sl(self) -> bool:
        return self.type in ("take_profit", "stop_loss")

    @property
    def trigger_key(self) -> tuple[int, int, int]:
        return (self.trigger_ticks, self.seq, self.order_id)


@dataclass(frozen=True, slots=True)
class Fill:
    trade_id: int
    order_id: int
    client_order_id: str
    symbol: str
    side: int
    price: Decimal
    qty: int
    exec_type: ExecType
    fee: Decimal  # paid, positive
    realised_pnl: Decimal
    time: int


@dataclass(frozen=True, slots=True)
class MarketTrade:
    """One print of the public tape (the simulator prints one per price change)."""

    trade_id: int
    symbol: str
    price: Decimal
    qty: int
    buyer_is_maker: bool
    time: int


@dataclass(frozen=True, slots=True)
class Balance:
    wallet: Decimal
    frozen: Decimal
    position_deposit: Decimal
    unrealized: Decimal

    @property
    def available(self) -> Decimal:
        return self.wallet - self.frozen - self.position_deposit

    @property
    def equity(self) -> Decimal:
        return self.wallet + self.unrealized


@dataclass(frozen=True, slots=True)
class OrderEvent:
    action: int
    order: Order  # a snapshot
    fill: Fill | None = None


@dataclass(frozen=True, slots=True)
class PriceUpdate:
    symbol: str
    price: Decimal
    ticks: int
    time: int
    trade: MarketTrade


@dataclass(frozen=True, slots=True)
class AccountEvents:
    """What changed in the account during one engine call, in order."""

    orders: list[OrderEvent]
    positions: list[Position]
    balance: Balance | None

    @property
    def empty(self) -> bool:
        return not self.orders and not self.positions and self.balance is None
