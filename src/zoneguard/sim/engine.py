"""The matching engine: books, orders, positions, margin, TP/SL and plan triggers. No I/O.

Model (one USDT account, hedge mode unless switched to one-way while flat):
* Each symbol has a last price L; the book shows bid = L - 1 tick and ask = L + 1 tick,
  and mark = index = L.
* Orders that cross (buy at >= ask, sell at <= bid) and market orders fill at once at the
  ask/bid as taker. Resting limit orders fill in full at their own price, as maker, when
  the last price trades at or through them (buy when L <= price, sell when L >= price).
* A crossing maker-only order is refused with 40011 (``post_only_cross="reject"``) or
  accepted then cancelled at once (``"cancel"``): BitMart documents neither (PROTOCOL §11).
* Closing sides 2/3 are reduce-only. A close never exceeds the position: a resting close
  that finds less position fills what is there and the rest is cancelled.
* One-way mode (PROTOCOL §4, §6.3): one position per symbol. Sides 1/4 are buy/sell: a fill
  first reduces an opposite position (realising its PnL) and opens with what is left; sides
  2/3 are the reduce-only buy/sell. The mode changes only while no position, open order or
  plan order exists (else 40059, PROTOCOL §6.5).
* Preset TP/SL of an opening order become whole-position TP/SL plan orders when it fills;
  they fire on the last price (mark = last here) as a market close of the whole position.
  When a position goes flat by any means its remaining TP/SL plans and resting closes are
  cancelled: BitMart does not document this, we chose the safe behaviour.
* Margin: notional / leverage, reserved ("frozen") while an opening order rests, then held
  by the position. Unrealised PnL does not change the available balance and there is no
  liquidation: the simulator is for execution logic, not for risk.

Every mutating call records events; the server takes them with :meth:`Engine.take_events`
and pushes them, so the engine never waits on a socket.

:class:`Engine` is the one object the server and the routes talk to; it wires the parts
and routes each call: :mod:`~zoneguard.sim.market` (books, prices),
:mod:`~zoneguard.sim.orders` (orders and execution), :mod:`~zoneguard.sim.plans` (plan
and TP/SL orders), :mod:`~zoneguard.sim.trailing` (trailing orders),
:mod:`~zoneguard.sim.account` (money, positions, leverage) and
:mod:`~zoneguard.sim.deadman` (``cancel-all-after`` timers).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from zoneguard.sim import errors as e
from zoneguard.sim.account import (
    DEFAULT_LEVERAGE,
    DEFAULT_OPEN_TYPE,
    MAINTENANCE_MARGIN_RATE,
    OPEN_TYPES,
    Account,
)
from zoneguard.sim.book import Book
from zoneguard.sim.candles import CandleSeries
from zoneguard.sim.checks import CLIENT_ORDER_ID_MAX
from zoneguard.sim.contracts import SimContract
from zoneguard.sim.deadman import MIN_TIMEOUT_S, CancelAfterTimers
from zoneguard.sim.errors import SimError
from zoneguard.sim.funds import Funds, Transfer
from zoneguard.sim.ids import FIRST_ORDER_ID, IdSource
from zoneguard.sim.ledger import OrderLedger
from zoneguard.sim.market import Market
from zoneguard.sim.model import (
    AccountEvents,
    Balance,
    Fill,
    Order,
    OrderOrigin,
    PlanOrder,
    Position,
    PositionMode,
    PriceUpdate,
)
from zoneguard.sim.order_requests import (
    OrderRequest,
    PlanChange,
    PlanRequest,
    TpSlRequest,
    TrailRequest,
)
from zoneguard.sim.orders import Orders, PostOnlyCross
from zoneguard.sim.plans import Plans, tp_sl_rises
from zoneguard.sim.trailing import TrailOrder, Trails

__all__ = [  # the names other modules have always imported from here
    "CLIENT_ORDER_ID_MAX",
    "DEFAULT_LEVERAGE",
    "DEFAULT_OPEN_TYPE",
    "FIRST_ORDER_ID",
    "MAINTENANCE_MARGIN_RATE",
    "OPEN_TYPES",
    "Engine",
    "IdSource",
    "OrderRequest",
    "PlanChange",
    "PlanRequest",
    "PostOnlyCross",
    "TpSlRequest",
    "TrailRequest",
    "tp_sl_rises",
    "wall_clock_ms",
]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class Engine:
    def __init__(
        self,
        contracts: Mapping[str, SimContract],
        prices: Mapping[str, Decimal],
        *,
        usdt_balance: Decimal,
        maker_fee_rate: Decimal = Decimal("0.0002"),
        taker_fee_rate: Decimal = Decimal("0.0006"),
        post_only_cross: PostOnlyCross = "reject",
        clock: Callable[[], int] = wall_clock_ms,
        ids: IdSource | None = None,
        spot_balance: Decimal = Decimal(0),
        claim_amount: Decimal = Decimal(10_000),
        liquidity: Callable[[bool], int | None] = lambda reduce_only: None,
    ) -> None:
        """``liquidity(reduce_only)``: contracts a taking order may fill (None: all of it);
        the fault injection's thin book."""
        self._clock = clock
        ids = ids or IdSource()
        self._market = Market(contracts, prices, clock, ids)
        self._candles = self._market.series  # the same dict: an e2e test seeds history in it
        self._account = Account(
            self._market,
            clock,
            usdt_balance=usdt_balance,
            spot_balance=spot_balance,
            claim_amount=claim_amount,
        )
        self._ledger = OrderLedger()
        self._plans = Plans(self._market, self._account, self._ledger, ids, clock)
        self._trails = Trails(self._market, self._account, ids, clock)
        self._orders = Orders(
            self._market,
            self._account,
            self._plans,
            self._ledger,
            ids,
            clock,
            maker_fee_rate=maker_fee_rate,
            taker_fee_rate=taker_fee_rate,
            post_only_cross=post_only_cross,
            liquidity=liquidity,
        )
        self._cancel_after = CancelAfterTimers()

    # ------------------------------------------------------------------ settings

    @property
    def maker_fee_rate(self) -> Decimal:
        return self._orders.maker_fee_rate

    @maker_fee_rate.setter
    def maker_fee_rate(self, rate: Decimal) -> None:
        self._orders.maker_fee_rate = rate

    @property
    def taker_fee_rate(self) -> Decimal:
        return self._orders.taker_fee_rate

    @taker_fee_rate.setter
    def taker_fee_rate(self, rate: Decimal) -> None:
        self._orders.taker_fee_rate = rate

    @property
    def post_only_cross(self) -> PostOnlyCross:
        return self._orders.post_only_cross

    @post_only_cross.setter
    def post_only_cross(self, behaviour: PostOnlyCross) -> None:
        self._orders.post_only_cross = behaviour

    @property
    def position_mode(self) -> PositionMode:
        return self._account.position_mode

    @position_mode.setter
    def position_mode(self, mode: PositionMode) -> None:
        self._account.position_mode = mode

    @property
    def funds(self) -> Funds:
        return self._account.funds

    @property
    def claim_amount(self) -> Decimal:
        return self._account.claim_amount

    @claim_amount.setter
    def claim_amount(self, amount: Decimal) -> None:
        self._account.claim_amount = amount

    # ------------------------------------------------------------------ market data

    @property
    def symbols(self) -> list[str]:
        return self._market.symbols

    def book(self, symbol: str) -> Book:
        return self._market.book(symbol)

    def contract(self, symbol: str) -> SimContract:
        return self._market.contract(symbol)

    def candles(self, symbol: str) -> CandleSeries:
        return self._market.candles(symbol)

    def last_price(self, symbol: str) -> Decimal:
        return self._market.last_price(symbol)

    def now_ms(self) -> int:
        return self._clock()

    def set_price(self, symbol: str, price: Decimal) -> PriceUpdate:
        """Move the last price (rounded to the tick) and print one trade; fills nothing yet.

        The caller pushes the new price to the public feed, then calls :meth:`match`, so a
        client sees the price before the fills it causes, like on a real venue.
        """
        return self._market.set_price(symbol, price)

    def match(self, symbol: str) -> list[int]:
        """Fill the resting orders the last price reached, then fire reached triggers.

        Returns the ids of the orders that received a fill. Costs O(log n) per crossed
        order or trigger; untouched orders are never visited.
        """
        book = self.book(symbol)
        filled: list[int] = []
        while (order_id := book.pop_crossed_buy()) is not None:
            if self._orders.fill_crossed(order_id).deal_size > 0:
                filled.append(order_id)
        while (order_id := book.pop_crossed_sell()) is not None:
            if self._orders.fill_crossed(order_id).deal_size > 0:
                filled.append(order_id)
        # Fired plans and trails send through submit_order, looked up now: a benchmark
        # may wrap it on the instance to time the orders clients send.
        while (plan_id := book.pop_fired_trigger()) is not None:
            executed = self._plans.fire(plan_id, self.submit_order)
            if executed is not None and executed.deal_size > 0:
                filled.append(executed.order_id)
        for executed in self._trails.fire_reached(symbol, self.submit_order):
            if executed.deal_size > 0:
                filled.append(executed.order_id)
        return filled

    # ------------------------------------------------------------------ orders

    def submit_order(
        self,
        req: OrderRequest,
        *,
        origin: OrderOrigin | None = None,
        plan: PlanOrder | None = None,
        trail: TrailOrder | None = None,
    ) -> Order:
        """Validate and execute a ``submit-order``; raises :class:`SimError` on refusal."""
        return self._orders.submit(req, origin=origin, plan=plan, trail=trail)

    def fill_resting(self, symbol: str, order_id: int, contracts: int) -> Order:
        """Fill part (or all) of a resting order at its own price, as maker: the partial
        fills a real book produces and a one-price model never would. The rest keeps resting."""
        return self._orders.fill_resting(symbol, order_id, contracts)

    def cancel_order(
        self, symbol: str, order_id: int | None = None, client_order_id: str | None = None
    ) -> list[int]:
        """Cancel one open order, or every open order of ``symbol`` when no id is given."""
        return self._orders.cancel_order(symbol, order_id, client_order_id)

    def cancel_all(self, symbol: str) -> list[int]:
        return self._orders.cancel_all(symbol)

    def cancel_all_after(self, symbol: str, timeout_s: int) -> tuple[int, int]:
        """``cancel-all-after``: (set time, cancel time) in seconds; cancel time 0 when
        ``timeout_s`` 0 disarmed the timer."""
        self.book(symbol)
        if timeout_s != 0 and timeout_s < MIN_TIMEOUT_S:
            raise SimError(e.INVALID_REQUEST, f"timeout must be 0 or at least {MIN_TIMEOUT_S}")
        now = self._clock()
        return now // 1000, self._cancel_after.arm(symbol, timeout_s, now) // 1000

    def cancel_expired(self) -> list[int]:
        """Cancel the open orders of every symbol whose ``cancel-all-after`` timer ran out."""
        cancelled: list[int] = []
        for symbol in self._cancel_after.expired(self._clock()):
            cancelled += self.cancel_all(symbol)
        return cancelled

    def modify_limit_order(
        self,
        symbol: str,
        order_id: int | None,
        client_order_id: str | None,
        price: Decimal | None,
        size: int | None,
    ) -> Order:
        return self._orders.modify_limit_order(symbol, order_id, client_order_id, price, size)

    def modify_preset(
        self,
        symbol: str,
        order_id: int,
        tp: Decimal | None,
        tp_type: int | None,
        sl: Decimal | None,
        sl_type: int | None,
    ) -> Order:
        """``modify-preset-plan-order``: change the TP/SL an open entry order will attach."""
        return self._orders.modify_preset(symbol, order_id, tp, tp_type, sl, sl_type)

    # ------------------------------------------------------------------ account

    def set_position_mode(self, mode: str) -> PositionMode:
        """``set-position-mode``: account-wide, refused (40059) while anything is open."""
        waiting = bool(self._ledger.open) or self._plans.any_active() or self._trails.any_active()
        return self._account.set_position_mode(mode, orders_waiting=waiting)

    def transfer(self, currency: str, amount: Decimal, kind: str) -> Transfer:
        """``transfer-contract``: move USDT between the spot and the futures wallet."""
        return self._account.transfer(currency, amount, kind)

    def claim(self) -> Decimal:
        """``claim`` (BitMart's demo host): top the futures wallet up by the claim amount."""
        return self._account.claim()

    def leverage_setting(self, symbol: str) -> tuple[Decimal, str]:
        return self._account.leverage_setting(symbol)

    def set_leverage(
        self, symbol: str, leverage: Decimal | None, open_type: str
    ) -> tuple[Decimal, str]:
        """``submit-leverage``: refused while a position of the symbol is open with other
        settings (BitMart answers 40012/40040 there; we use 40040)."""
        return self._account.set_leverage(symbol, leverage, open_type)

    def balance(self) -> Balance:
        return self._account.balance()

    def unrealized_pnl(self, position: Position) -> Decimal:
        return self._account.unrealized_pnl(position)

    def liquidation_price(self, position: Position) -> Decimal:
        """Rough isolated-margin liquidation price: entry moved by 1/leverage - MMR."""
        return self._account.liquidation_price(position)

    def positions(self) -> Iterable[Position]:
        return self._account.positions()

    def position(self, symbol: str, position_type: int) -> Position | None:
        return self._account.position(symbol, position_type)

    # ------------------------------------------------------------------ TP/SL and plans

    def submit_tp_sl(self, req: TpSlRequest) -> PlanOrder:
        return self._plans.submit_tp_sl(req)

    def modify_tp_sl(
        self,
        symbol: str,
        order_id: int | None,
        client_order_id: str | None,
        trigger_price: Decimal,
        price_type: int | None,
        executive_price: Decimal | None,
    ) -> PlanOrder:
        return self._plans.modify_tp_sl(
            symbol, order_id, client_order_id, trigger_price, price_type, executive_price
        )

    def submit_plan(self, req: PlanRequest) -> PlanOrder:
        """``submit-plan-order``: an order (limit or market) sent when a trigger is reached."""
        return self._plans.submit_plan(req)

    def cancel_plan(self, symbol: str, order_id: int | None, client_order_id: str | None) -> None:
        self._plans.cancel_plan(symbol, order_id, client_order_id)

    def modify_plan(
        self, symbol: str, order_id: int | None, client_order_id: str | None, change: PlanChange
    ) -> PlanOrder:
        """``modify-plan-order``: new type, trigger and price for a waiting plan order."""
        return self._plans.modify_plan(symbol, order_id, client_order_id, change)

    def plans(self) -> Iterable[PlanOrder]:
        return self._plans.plans()

    def active_plans(self) -> Iterable[PlanOrder]:
        return self._plans.active_plans()

    # ------------------------------------------------------------------ trailing orders

    def submit_trail(self, req: TrailRequest) -> TrailOrder:
        """``submit-trail-order``: a market order sent when the price turns back by
        ``callback_rate`` percent after reaching ``activation_price``."""
        return self._trails.submit(req)

    def cancel_trail(self, symbol: str, order_id: int | None) -> list[int]:
        """``cancel-trail-order``: one trail order, or every one of ``symbol`` without an id."""
        return self._trails.cancel(symbol, order_id)

    def trail(self, order_id: int) -> TrailOrder | None:
        return self._trails.trail(order_id)

    def trails(self) -> Iterable[TrailOrder]:
        return self._trails.trails()

    def active_trails(self) -> Iterable[TrailOrder]:
        return self._trails.active_trails()

    # ------------------------------------------------------------------ queries and events

    def order(self, order_id: int) -> Order | None:
        return self._ledger.orders.get(order_id)

    def orders(self) -> Iterable[Order]:
        return self._ledger.orders.values()

    def open_orders(self) -> Iterable[Order]:
        return self._ledger.open.values()

    def fills(self) -> list[Fill]:
        return self._ledger.fills

    def take_events(self) -> AccountEvents:
        """Account changes since the last call, oldest first, and forget them."""
        orders = self._ledger.take_events()
        positions, balance = self._account.take_changes()
        return AccountEvents(orders, positions, balance)
