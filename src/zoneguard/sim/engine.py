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
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Literal

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
from zoneguard.sim.checks import (
    CLIENT_ORDER_ID_MAX,
    check_client_order_id,
    check_presets,
    check_price,
)
from zoneguard.sim.contracts import SimContract
from zoneguard.sim.deadman import MIN_TIMEOUT_S, CancelAfterTimers
from zoneguard.sim.errors import SimError
from zoneguard.sim.funds import (
    Funds,
    Transfer,
)
from zoneguard.sim.ids import FIRST_ORDER_ID, IdSource
from zoneguard.sim.ledger import OrderLedger
from zoneguard.sim.market import Market
from zoneguard.sim.model import (
    ACTION_CANCEL,
    ACTION_FILL,
    ACTION_SUBMIT,
    MODE_FOK,
    MODE_IOC,
    MODE_MAKER_ONLY,
    MODES,
    SIDES,
    STATE_FINISHED,
    AccountEvents,
    Balance,
    ExecType,
    Fill,
    Order,
    OrderOrigin,
    PlanOrder,
    Position,
    PositionMode,
    PriceUpdate,
    is_buy,
    is_opening,
    position_type_of,
)
from zoneguard.sim.order_requests import (
    OrderRequest,
    PlanChange,
    PlanRequest,
    TpSlRequest,
    TrailRequest,
)
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

PostOnlyCross = Literal["reject", "cancel"]


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
        self.maker_fee_rate = maker_fee_rate
        self.taker_fee_rate = taker_fee_rate
        self.post_only_cross: PostOnlyCross = post_only_cross
        self._clock = clock
        self._ids = ids or IdSource()
        self._market = Market(contracts, prices, clock, self._ids)
        self._candles = self._market.series  # the same dict: an e2e test seeds history in it
        self._account = Account(
            self._market,
            clock,
            usdt_balance=usdt_balance,
            spot_balance=spot_balance,
            claim_amount=claim_amount,
        )
        self._ledger = OrderLedger()
        self._plans = Plans(self._market, self._account, self._ledger, self._ids, clock)
        self._trails = Trails(self._market, self._account, self._ids, clock)
        self._cancel_after = CancelAfterTimers()
        self._liquidity = liquidity

    # ------------------------------------------------------------------ settings

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
            self._fill_resting(order_id, filled)
        while (order_id := book.pop_crossed_sell()) is not None:
            self._fill_resting(order_id, filled)
        while (plan_id := book.pop_fired_trigger()) is not None:
            executed = self._plans.fire(plan_id, self.submit_order)
            if executed is not None and executed.deal_size > 0:
                filled.append(executed.order_id)
        for executed in self._trails.fire_reached(symbol, self.submit_order):
            if executed.deal_size > 0:
                filled.append(executed.order_id)
        return filled

    def _fill_resting(self, order_id: int, filled: list[int]) -> None:
        order = self._ledger.open[order_id]
        self._release_resting(order)
        self._take(order, order.price, "Maker")
        if order.deal_size > 0:
            filled.append(order_id)

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
        book = self.book(req.symbol)
        contract = book.contract
        if req.side not in SIDES:
            raise SimError(e.INVALID_SIDE, f"Invalid side {req.side}")
        if req.type not in ("limit", "market"):
            raise SimError(e.INVALID_TYPE, f"Invalid order type {req.type!r}")
        if req.mode not in MODES:
            raise SimError(e.INVALID_REQUEST, f"Invalid mode {req.mode}")
        market = req.type == "market"
        buy = is_buy(req.side)
        max_volume = contract.market_max_volume if market else contract.max_volume
        if not contract.min_volume <= req.size <= max_volume:
            raise SimError(
                e.SIZE_OUT_OF_RANGE,
                f"Size must be between {contract.min_volume} and {max_volume} contracts",
            )
        if market:
            if req.mode == MODE_MAKER_ONLY:
                raise SimError(e.INVALID_REQUEST, "Maker only mode requires a limit order")
            price = Decimal(0)
            price_ticks = 0
            reference_ticks = book.ask_ticks if buy else book.bid_ticks
            crossing = True
        else:
            if req.price is None:
                raise SimError(e.INVALID_REQUEST, "price is required for a limit order")
            check_price(contract, req.price, "price")
            price = req.price
            price_ticks = contract.to_ticks(price)
            crossing = price_ticks >= book.ask_ticks if buy else price_ticks <= book.bid_ticks
            reference_ticks = (
                (book.ask_ticks if buy else book.bid_ticks) if crossing else price_ticks
            )
        check_client_order_id(req.client_order_id, self._ledger.by_client_id)
        reference = contract.from_ticks(reference_ticks)

        if is_opening(req.side):
            leverage, open_type = self._account.resolve_leverage(
                req.symbol, req.leverage, req.open_type
            )
            check_presets(contract, req, reference)
            required = contract.notional(req.size, reference) / leverage
            if required > self.balance().available:
                raise SimError(e.INSUFFICIENT_BALANCE, "Insufficient available balance")
        else:
            position = self._account.position(req.symbol, position_type_of(req.side))
            if position is None or position.hold == 0:
                raise SimError(e.POSITION_NOT_EXIST, "Position does not exist")
            tp_sl = plan is not None and plan.is_tp_sl
            if not tp_sl and req.size > position.hold - position.pending_close:
                raise SimError(e.CLOSE_SIZE_TOO_LARGE, "Close size exceeds the position size")
            leverage, open_type = position.leverage, position.open_type

        maker_only_crosses = crossing and not market and req.mode == MODE_MAKER_ONLY
        if maker_only_crosses and self.post_only_cross == "reject":
            raise SimError(e.INVALID_REQUEST, e.MAKER_ONLY_WOULD_CROSS_MESSAGE)

        now = self._clock()
        opening = is_opening(req.side)
        order = Order(
            order_id=self._ids.order_id(),
            client_order_id=req.client_order_id,
            symbol=req.symbol,
            side=req.side,
            type="market" if market else "limit",
            mode=req.mode,
            price=price,
            size=req.size,
            leverage=leverage,
            open_type=open_type,
            create_time=now,
            update_time=now,
            origin=origin or ("market" if market else "limit"),
            seq=self._ids.seq(),
            price_ticks=price_ticks,
            preset_tp=req.preset_tp if opening else None,
            preset_tp_type=req.preset_tp_type if opening and req.preset_tp is not None else 0,
            preset_sl=req.preset_sl if opening else None,
            preset_sl_type=req.preset_sl_type if opening and req.preset_sl is not None else 0,
            position_mode=self.position_mode,
        )
        if plan is not None:
            order.plan_order_id = plan.order_id
            order.trigger_price = plan.trigger_price
            order.trigger_price_type = plan.price_type
            order.execution_price = plan.executive_price
        if trail is not None:
            order.plan_order_id = trail.order_id
            order.activation_price = trail.activation_price
            order.activation_price_type = trail.activation_price_type
            order.callback_rate = trail.callback_rate
        if opening:
            self._account.remember_leverage(req.symbol, leverage, open_type)
        self._ledger.register(order)
        self._execute(order, book, crossing, reference)
        return order

    def _execute(self, order: Order, book: Book, crossing: bool, reference: Decimal) -> None:
        """Take, rest or cancel a freshly accepted (or modified) order."""
        if crossing:
            if order.type == "limit" and order.mode == MODE_MAKER_ONLY:
                self._cancel(order)
            else:
                self._take(order, reference, "Taker")
        elif order.mode in (MODE_FOK, MODE_IOC):
            self._cancel(order)
        else:
            self._rest(order, book)

    def fill_resting(self, symbol: str, order_id: int, contracts: int) -> Order:
        """Fill part (or all) of a resting order at its own price, as maker: the partial
        fills a real book produces and a one-price model never would. The rest keeps resting."""
        book = self.book(symbol)
        order = self._ledger.open.get(order_id)
        if order is None or order.symbol != symbol or not order.resting:
            raise SimError(e.ORDER_NOT_EXIST, "No resting order with this id")
        if not 1 <= contracts <= order.remaining:
            raise SimError(
                e.SIZE_OUT_OF_RANGE, f"contracts must be between 1 and {order.remaining}"
            )
        self._release_resting(order)
        qty = contracts
        if not is_opening(order.side):
            qty = min(qty, self._account.position_for(order).hold)
        if qty > 0:
            self._fill(order, qty, order.price, "Maker")
        if order.is_open:
            if is_opening(order.side) or self._account.position_for(order).hold > 0:
                self._rest(order, book)
            else:
                self._cancel(order)
        return order

    def cancel_order(
        self, symbol: str, order_id: int | None = None, client_order_id: str | None = None
    ) -> list[int]:
        """Cancel one open order, or every open order of ``symbol`` when no id is given."""
        self.book(symbol)
        if order_id is None and not client_order_id:
            return self.cancel_all(symbol)
        order = self._ledger.find(symbol, order_id, client_order_id)
        if not order.is_open:
            # BitMart looks among live orders only: a finished one "does not exist" (40035).
            raise SimError(e.ORDER_NOT_EXIST, "Order not exist")
        self._cancel(order)
        return [order.order_id]

    def cancel_all(self, symbol: str) -> list[int]:
        self.book(symbol)
        victims = [o for o in self._ledger.open.values() if o.symbol == symbol]
        for order in victims:
            self._cancel(order)
        return [o.order_id for o in victims]

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
        book = self.book(symbol)
        contract = book.contract
        order = self._ledger.find(symbol, order_id, client_order_id)
        if not order.is_open or not order.resting or order.type != "limit":
            raise SimError(e.STATE_NOT_ALLOWED, "Order state does not allow modification")
        if price is None and size is None:
            raise SimError(e.INVALID_REQUEST, "price or size is required")
        new_price = order.price if price is None else price
        check_price(contract, new_price, "price")
        new_size = order.size if size is None else size
        if not max(contract.min_volume, order.deal_size + 1) <= new_size <= contract.max_volume:
            raise SimError(e.SIZE_OUT_OF_RANGE, "Size out of range")
        new_ticks = contract.to_ticks(new_price)
        buy = is_buy(order.side)
        crossing = new_ticks >= book.ask_ticks if buy else new_ticks <= book.bid_ticks
        if crossing and order.mode == MODE_MAKER_ONLY and self.post_only_cross == "reject":
            raise SimError(e.INVALID_REQUEST, e.MAKER_ONLY_WOULD_CROSS_MESSAGE)
        reference = contract.from_ticks(
            (book.ask_ticks if buy else book.bid_ticks) if crossing else new_ticks
        )
        new_remaining = new_size - order.deal_size
        if is_opening(order.side):
            needed = contract.notional(new_remaining, reference) / order.leverage
            if needed - order.frozen_margin > self.balance().available:
                raise SimError(e.INSUFFICIENT_BALANCE, "Insufficient available balance")
        else:
            position = self._account.position_for(order)
            others = position.pending_close - order.remaining
            if new_remaining > position.hold - others:
                raise SimError(e.CLOSE_SIZE_TOO_LARGE, "Close size exceeds the position size")
        self._release_resting(order)
        order.price = new_price
        order.price_ticks = new_ticks
        order.size = new_size
        order.update_time = self._clock()
        self._ledger.emit(ACTION_SUBMIT, order)
        self._execute(order, book, crossing, reference)
        return order

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
        contract = self.contract(symbol)
        order = self._ledger.find(symbol, order_id, None)
        if not order.is_open or not is_opening(order.side):
            raise SimError(e.STATE_NOT_ALLOWED, "Order state does not allow modification")
        req = OrderRequest(
            symbol=symbol,
            side=order.side,
            size=order.size,
            price=order.price,
            preset_tp=order.preset_tp if tp is None else tp,
            preset_tp_type=tp_type or order.preset_tp_type or 1,
            preset_sl=order.preset_sl if sl is None else sl,
            preset_sl_type=sl_type or order.preset_sl_type or 1,
        )
        reference = order.price if order.type == "limit" else self.last_price(symbol)
        check_presets(contract, req, reference)
        order.preset_tp, order.preset_sl = req.preset_tp, req.preset_sl
        order.preset_tp_type = req.preset_tp_type if req.preset_tp is not None else 0
        order.preset_sl_type = req.preset_sl_type if req.preset_sl is not None else 0
        order.update_time = self._clock()
        return order

    # ------------------------------------------------------------------ account settings

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

    # ------------------------------------------------------------------ leverage

    def leverage_setting(self, symbol: str) -> tuple[Decimal, str]:
        return self._account.leverage_setting(symbol)

    def set_leverage(
        self, symbol: str, leverage: Decimal | None, open_type: str
    ) -> tuple[Decimal, str]:
        """``submit-leverage``: refused while a position of the symbol is open with other
        settings (BitMart answers 40012/40040 there; we use 40040)."""
        return self._account.set_leverage(symbol, leverage, open_type)

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

    def submit_trail(self, req: TrailRequest) -> TrailOrder:
        """``submit-trail-order``: a market order sent when the price turns back by
        ``callback_rate`` percent after reaching ``activation_price``."""
        return self._trails.submit(req)

    def cancel_trail(self, symbol: str, order_id: int | None) -> list[int]:
        """``cancel-trail-order``: one trail order, or every one of ``symbol`` without an id."""
        return self._trails.cancel(symbol, order_id)

    # ------------------------------------------------------------------ execution internals

    def _rest(self, order: Order, book: Book) -> None:
        book.rest(order)
        if is_opening(order.side):
            margin = book.contract.notional(order.remaining, order.price) / order.leverage
            order.frozen_margin = margin
            self._account.freeze(margin)
        else:
            position = self._account.position_for(order)
            position.pending_close += order.remaining
            position.close_order_ids.add(order.order_id)
            self._account.mark(position)

    def _release_resting(self, order: Order) -> None:
        if not order.resting:
            return
        self._market.books[order.symbol].unrest(order)
        if is_opening(order.side):
            self._account.unfreeze(order.frozen_margin)
            order.frozen_margin = Decimal(0)
        else:
            position = self._account.position_for(order)
            position.pending_close -= order.remaining
            position.close_order_ids.discard(order.order_id)
            self._account.mark(position)

    def _cancel(self, order: Order) -> None:
        self._release_resting(order)
        order.state = STATE_FINISHED
        order.update_time = self._clock()
        self._ledger.open.pop(order.order_id, None)
        self._ledger.emit(ACTION_CANCEL, order)

    def _take(self, order: Order, price: Decimal, exec_type: ExecType) -> None:
        """Fill an order's remaining size at ``price`` (a close: at most the position);
        whatever cannot fill is cancelled."""
        qty = order.remaining
        if not is_opening(order.side):
            qty = min(qty, self._account.position_for(order).hold)
        available = self._liquidity(not is_opening(order.side))
        if available is not None:
            qty = min(qty, available)
        if qty > 0:
            self._fill(order, qty, price, exec_type)
        if order.is_open:
            self._cancel(order)

    def _fill(self, order: Order, qty: int, price: Decimal, exec_type: ExecType) -> None:
        contract = self._market.books[order.symbol].contract
        now = self._clock()
        rate = self.maker_fee_rate if exec_type == "Maker" else self.taker_fee_rate
        fee = contract.notional(qty, price) * rate
        effect = self._account.settle_fill(order, contract, qty, price, fee, now)
        order.deal_size += qty
        order.deal_value += price * qty
        order.fees += fee
        order.update_time = now
        if order.remaining == 0:
            order.state = STATE_FINISHED
            self._ledger.open.pop(order.order_id, None)
        fill = Fill(
            trade_id=self._ids.trade_id(),
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            price=price,
            qty=qty,
            exec_type=exec_type,
            fee=fee,
            realised_pnl=effect.realised,
            time=now,
        )
        self._ledger.fills.append(fill)
        order.last_fill = fill
        self._ledger.emit(ACTION_FILL, order, fill)
        for changed in effect.touched:
            self._account.mark(changed)
            if changed.hold == 0:
                self._on_flat(changed)
        if effect.opened:
            self._apply_presets(order, effect.position)

    def _apply_presets(self, order: Order, position: Position) -> None:
        if order.presets_applied:
            return
        order.presets_applied = True
        for kind, price, price_type in (
            ("take_profit", order.preset_tp, order.preset_tp_type),
            ("stop_loss", order.preset_sl, order.preset_sl_type),
        ):
            if price is not None:
                # One whole-position TP and one SL per position: a newer preset replaces.
                self._plans.cancel_position_plans(position, kind=kind, category=2)
                self._plans.add_tp_sl(position, kind, price, price_type)

    def _on_flat(self, position: Position) -> None:
        position.margin = Decimal(0)
        self._plans.cancel_position_plans(position)
        for order_id in list(position.close_order_ids):
            self._cancel(self._ledger.orders[order_id])

    # ------------------------------------------------------------------ queries

    def order(self, order_id: int) -> Order | None:
        return self._ledger.orders.get(order_id)

    def orders(self) -> Iterable[Order]:
        return self._ledger.orders.values()

    def open_orders(self) -> Iterable[Order]:
        return self._ledger.open.values()

    def fills(self) -> list[Fill]:
        return self._ledger.fills

    def trail(self, order_id: int) -> TrailOrder | None:
        return self._trails.trail(order_id)

    def trails(self) -> Iterable[TrailOrder]:
        return self._trails.trails()

    def active_trails(self) -> Iterable[TrailOrder]:
        return self._trails.active_trails()

    def plans(self) -> Iterable[PlanOrder]:
        return self._plans.plans()

    def active_plans(self) -> Iterable[PlanOrder]:
        return self._plans.active_plans()

    def positions(self) -> Iterable[Position]:
        return self._account.positions()

    def position(self, symbol: str, position_type: int) -> Position | None:
        return self._account.position(symbol, position_type)

    def balance(self) -> Balance:
        return self._account.balance()

    def unrealized_pnl(self, position: Position) -> Decimal:
        return self._account.unrealized_pnl(position)

    def liquidation_price(self, position: Position) -> Decimal:
        """Rough isolated-margin liquidation price: entry moved by 1/leverage - MMR."""
        return self._account.liquidation_price(position)

    # ------------------------------------------------------------------ events

    def take_events(self) -> AccountEvents:
        """Account changes since the last call, oldest first, and forget them."""
        orders = self._ledger.take_events()
        positions, balance = self._account.take_changes()
        return AccountEvents(orders, positions, balance)
