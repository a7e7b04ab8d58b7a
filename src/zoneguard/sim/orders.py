"""Orders and their execution: accepting, changing and cancelling orders, and what happens
to an accepted one (it takes, rests, fills or is cancelled).

A crossing or market order takes at once at the ask/bid; a resting limit order fills in
full at its own price, as maker, when the price reaches it. A crossing maker-only order is
refused (40011) or accepted then cancelled, per ``post_only_cross``. A close never exceeds
the position: what finds no position is cancelled. An opening fill attaches the order's
preset TP/SL; a position that goes flat loses its TP/SL and resting closes.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Literal

from zoneguard.sim import errors as e
from zoneguard.sim.account import Account
from zoneguard.sim.book import Book
from zoneguard.sim.checks import check_client_order_id, check_presets, check_price
from zoneguard.sim.errors import SimError
from zoneguard.sim.ids import IdSource
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
    ExecType,
    Fill,
    Order,
    OrderOrigin,
    PlanOrder,
    Position,
    is_buy,
    is_opening,
    position_type_of,
)
from zoneguard.sim.order_requests import OrderRequest
from zoneguard.sim.plans import Plans
from zoneguard.sim.trailing import TrailOrder

PostOnlyCross = Literal["reject", "cancel"]


class Orders:
    def __init__(
        self,
        market: Market,
        account: Account,
        plans: Plans,
        ledger: OrderLedger,
        ids: IdSource,
        clock: Callable[[], int],
        *,
        maker_fee_rate: Decimal,
        taker_fee_rate: Decimal,
        post_only_cross: PostOnlyCross,
        liquidity: Callable[[bool], int | None],
    ) -> None:
        self._market = market
        self._account = account
        self._plans = plans
        self._ledger = ledger
        self._ids = ids
        self._clock = clock
        self.maker_fee_rate = maker_fee_rate
        self.taker_fee_rate = taker_fee_rate
        self.post_only_cross: PostOnlyCross = post_only_cross
        self._liquidity = liquidity

    # ------------------------------------------------------------------ entry

    def submit(
        self,
        req: OrderRequest,
        *,
        origin: OrderOrigin | None = None,
        plan: PlanOrder | None = None,
        trail: TrailOrder | None = None,
    ) -> Order:
        """Validate and execute a ``submit-order``; raises :class:`SimError` on refusal."""
        book = self._market.book(req.symbol)
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
            if required > self._account.balance().available:
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
            position_mode=self._account.position_mode,
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

    def modify_limit_order(
        self,
        symbol: str,
        order_id: int | None,
        client_order_id: str | None,
        price: Decimal | None,
        size: int | None,
    ) -> Order:
        book = self._market.book(symbol)
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
            if needed - order.frozen_margin > self._account.balance().available:
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
        contract = self._market.contract(symbol)
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
        reference = order.price if order.type == "limit" else self._market.last_price(symbol)
        check_presets(contract, req, reference)
        order.preset_tp, order.preset_sl = req.preset_tp, req.preset_sl
        order.preset_tp_type = req.preset_tp_type if req.preset_tp is not None else 0
        order.preset_sl_type = req.preset_sl_type if req.preset_sl is not None else 0
        order.update_time = self._clock()
        return order

    def cancel_order(
        self, symbol: str, order_id: int | None = None, client_order_id: str | None = None
    ) -> list[int]:
        self._market.book(symbol)
        if order_id is None and not client_order_id:
            return self.cancel_all(symbol)
        order = self._ledger.find(symbol, order_id, client_order_id)
        if not order.is_open:
            # BitMart looks among live orders only: a finished one "does not exist" (40035).
            raise SimError(e.ORDER_NOT_EXIST, "Order not exist")
        self._cancel(order)
        return [order.order_id]

    def cancel_all(self, symbol: str) -> list[int]:
        self._market.book(symbol)
        victims = [o for o in self._ledger.open.values() if o.symbol == symbol]
        for order in victims:
            self._cancel(order)
        return [o.order_id for o in victims]

    # ------------------------------------------------------------------ fills at rest

    def fill_crossed(self, order_id: int) -> Order:
        """Fill a resting order the price reached, in full at its own price, as maker."""
        order = self._ledger.open[order_id]
        self._release_resting(order)
        self._take(order, order.price, "Maker")
        return order

    def fill_resting(self, symbol: str, order_id: int, contracts: int) -> Order:
        book = self._market.book(symbol)
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

    # ------------------------------------------------------------------ execution

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
        """A flat position keeps no TP/SL and no resting close: BitMart does not document
        this; we chose the safe behaviour."""
        position.margin = Decimal(0)
        self._plans.cancel_position_plans(position)
        for order_id in list(position.close_order_ids):
            self._cancel(self._ledger.orders[order_id])
