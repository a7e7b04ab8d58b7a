"""Orders that wait for a trigger price: plan orders and position TP/SL orders.

Accepting, changing and cancelling them, arming their triggers in the symbol's book, and
turning a fired one into the order it sends. A TP/SL belongs to its position: a whole-
position one (``plan_category`` 2) replaces the previous of its kind, and when it fires it
closes whatever the position holds then. A trigger already reached is refused rather than
fired, and a plan whose order is refused when it fires ends cancelled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Literal, Protocol

from zoneguard.sim import errors as e
from zoneguard.sim.account import Account
from zoneguard.sim.checks import (
    check_client_order_id,
    check_price,
    check_price_type,
    refuse_immediate_trigger,
)
from zoneguard.sim.errors import SimError
from zoneguard.sim.ids import IdSource
from zoneguard.sim.ledger import OrderLedger
from zoneguard.sim.market import Market
from zoneguard.sim.model import (
    LONG,
    MODE_GTC,
    MODES,
    PLAN_STATE_CANCELLED,
    PLAN_STATE_TRIGGERED,
    PRICE_WAY_FALL,
    PRICE_WAY_RISE,
    SIDES,
    Order,
    OrderOrigin,
    PlanOrder,
    Position,
    closing_side_of,
    is_opening,
    position_type_of,
)
from zoneguard.sim.order_requests import OrderRequest, PlanChange, PlanRequest, TpSlRequest


class PlanOrderSender(Protocol):
    """Sends the order of a fired plan: the engine's ``submit_order``."""

    def __call__(self, req: OrderRequest, *, origin: OrderOrigin, plan: PlanOrder) -> Order: ...


def tp_sl_rises(position_type: int, kind: str) -> bool:
    """A long's TP and a short's SL fire on a rise; the other two on a fall."""
    return (kind == "take_profit") == (position_type == LONG)


class Plans:
    def __init__(
        self,
        market: Market,
        account: Account,
        ledger: OrderLedger,
        ids: IdSource,
        clock: Callable[[], int],
    ) -> None:
        self._market = market
        self._account = account
        self._ledger = ledger
        self._ids = ids
        self._clock = clock
        self._plans: dict[int, PlanOrder] = {}
        self._active: dict[int, PlanOrder] = {}
        self._by_client_id: dict[str, int] = {}

    def plans(self) -> Iterable[PlanOrder]:
        return self._plans.values()

    def active_plans(self) -> Iterable[PlanOrder]:
        return self._active.values()

    def any_active(self) -> bool:
        return bool(self._active)

    # ------------------------------------------------------------------ TP/SL

    def submit_tp_sl(self, req: TpSlRequest) -> PlanOrder:
        book = self._market.book(req.symbol)
        contract = book.contract
        if req.type not in ("take_profit", "stop_loss"):
            raise SimError(e.INVALID_TYPE, f"Invalid TP/SL type {req.type!r}")
        if req.side not in (2, 3):
            raise SimError(e.INVALID_SIDE, "TP/SL side must be 2 (close short) or 3 (close long)")
        if req.plan_category not in (1, 2):
            raise SimError(e.INVALID_REQUEST, f"Invalid plan_category {req.plan_category}")
        check_price_type(req.price_type)
        position = self._account.position(req.symbol, position_type_of(req.side))
        if position is None or position.hold == 0:
            raise SimError(e.POSITION_NOT_EXIST, "Position does not exist")
        check_price(contract, req.trigger_price, "trigger_price")
        if req.executive_price:
            check_price(contract, req.executive_price, "executive_price")
        size = 0  # the whole position, whatever it is when the trigger fires
        if req.plan_category == 1 and req.size is not None:
            if not 1 <= req.size <= position.hold:
                raise SimError(e.CLOSE_SIZE_TOO_LARGE, "Close size exceeds the position size")
            size = req.size
        check_client_order_id(req.client_order_id, self._by_client_id)
        rising = tp_sl_rises(position.position_type, req.type)
        trigger_ticks = contract.to_ticks(req.trigger_price)
        refuse_immediate_trigger(book, trigger_ticks, rising)
        if req.plan_category == 2:
            self.cancel_position_plans(position, kind=req.type, category=2)
        return self.add_tp_sl(
            position,
            req.type,
            req.trigger_price,
            req.price_type,
            executive_price=req.executive_price,
            plan_category=req.plan_category,
            size=size,
            client_order_id=req.client_order_id,
        )

    def modify_tp_sl(
        self,
        symbol: str,
        order_id: int | None,
        client_order_id: str | None,
        trigger_price: Decimal,
        price_type: int | None,
        executive_price: Decimal | None,
    ) -> PlanOrder:
        book = self._market.book(symbol)
        plan = self._find_active(symbol, order_id, client_order_id)
        if not plan.is_tp_sl:
            raise SimError(e.STATE_NOT_ALLOWED, "Not a TP/SL order")
        check_price(book.contract, trigger_price, "trigger_price")
        if price_type is not None:
            check_price_type(price_type)
        if executive_price:
            check_price(book.contract, executive_price, "executive_price")
        ticks = book.contract.to_ticks(trigger_price)
        rising = plan.price_way == PRICE_WAY_RISE
        refuse_immediate_trigger(book, ticks, rising)
        book.disarm(plan)
        plan.trigger_price = trigger_price
        plan.trigger_ticks = ticks
        if price_type is not None:
            plan.price_type = price_type
        if executive_price is not None:
            plan.executive_price = executive_price
        plan.update_time = self._clock()
        book.arm(plan, rising)
        return plan

    def add_tp_sl(
        self,
        position: Position,
        kind: Literal["take_profit", "stop_loss"] | str,
        trigger_price: Decimal,
        price_type: int,
        *,
        executive_price: Decimal = Decimal(0),
        plan_category: int = 2,
        size: int = 0,
        client_order_id: str = "",
    ) -> PlanOrder:
        """Attach a TP/SL to ``position`` and arm it (checked by the caller)."""
        book = self._market.books[position.symbol]
        rising = tp_sl_rises(position.position_type, kind)
        now = self._clock()
        plan = PlanOrder(
            order_id=self._ids.order_id(),
            client_order_id=client_order_id,
            symbol=position.symbol,
            side=closing_side_of(position.position_type),
            type="take_profit" if kind == "take_profit" else "stop_loss",
            plan_category=plan_category,
            size=size,
            trigger_price=trigger_price,
            trigger_ticks=book.contract.to_ticks(trigger_price),
            executive_price=executive_price,
            price_type=price_type or 1,
            price_way=PRICE_WAY_RISE if rising else PRICE_WAY_FALL,
            mode=MODE_GTC,
            leverage=position.leverage,
            open_type=position.open_type,
            create_time=now,
            update_time=now,
            seq=self._ids.seq(),
            position_mode=self._account.position_mode,
        )
        self._register(plan)
        position.plan_ids.add(plan.order_id)
        book.arm(plan, rising)
        return plan

    def cancel_position_plans(
        self, position: Position, *, kind: str | None = None, category: int | None = None
    ) -> None:
        """Cancel ``position``'s TP/SL orders (only those of ``kind``/``category`` if given)."""
        for plan_id in list(position.plan_ids):
            plan = self._plans[plan_id]
            if (kind is None or plan.type == kind) and (
                category is None or plan.plan_category == category
            ):
                self._cancel(plan)

    # ------------------------------------------------------------------ plan orders

    def submit_plan(self, req: PlanRequest) -> PlanOrder:
        book = self._market.book(req.symbol)
        contract = book.contract
        if req.side not in SIDES:
            raise SimError(e.INVALID_SIDE, f"Invalid side {req.side}")
        if req.type not in ("limit", "market"):
            raise SimError(e.INVALID_TYPE, f"Invalid plan order type {req.type!r}")
        if req.mode not in MODES:
            raise SimError(e.INVALID_REQUEST, f"Invalid mode {req.mode}")
        if req.price_way not in (PRICE_WAY_RISE, PRICE_WAY_FALL):
            raise SimError(e.INVALID_REQUEST, f"Invalid price_way {req.price_way}")
        check_price_type(req.price_type)
        if not contract.min_volume <= req.size <= contract.max_volume:
            raise SimError(e.SIZE_OUT_OF_RANGE, "Size out of range")
        check_price(contract, req.trigger_price, "trigger_price")
        if req.type == "limit":
            check_price(contract, req.executive_price, "executive_price")
        check_client_order_id(req.client_order_id, self._by_client_id)
        leverage, open_type = self._account.leverage_setting(req.symbol)
        if is_opening(req.side):
            leverage, open_type = self._account.resolve_leverage(
                req.symbol, req.leverage, req.open_type
            )
        ticks = contract.to_ticks(req.trigger_price)
        rising = req.price_way == PRICE_WAY_RISE
        refuse_immediate_trigger(book, ticks, rising)
        now = self._clock()
        plan = PlanOrder(
            order_id=self._ids.order_id(),
            client_order_id=req.client_order_id,
            symbol=req.symbol,
            side=req.side,
            type="limit" if req.type == "limit" else "market",
            plan_category=0,
            size=req.size,
            trigger_price=req.trigger_price,
            trigger_ticks=ticks,
            executive_price=req.executive_price if req.type == "limit" else Decimal(0),
            price_type=req.price_type,
            price_way=req.price_way,
            mode=req.mode,
            leverage=leverage,
            open_type=open_type,
            create_time=now,
            update_time=now,
            seq=self._ids.seq(),
            preset_tp=req.preset_tp,
            preset_tp_type=req.preset_tp_type if req.preset_tp is not None else 0,
            preset_sl=req.preset_sl,
            preset_sl_type=req.preset_sl_type if req.preset_sl is not None else 0,
            position_mode=self._account.position_mode,
        )
        self._register(plan)
        book.arm(plan, rising)
        return plan

    def cancel_plan(self, symbol: str, order_id: int | None, client_order_id: str | None) -> None:
        plan = self._find_active(symbol, order_id, client_order_id)
        self._cancel(plan)

    def modify_plan(
        self, symbol: str, order_id: int | None, client_order_id: str | None, change: PlanChange
    ) -> PlanOrder:
        book = self._market.book(symbol)
        contract = book.contract
        plan = self._find_active(symbol, order_id, client_order_id)
        if plan.is_tp_sl:
            raise SimError(e.STATE_NOT_ALLOWED, "A TP/SL order is changed by modify-tp-sl-order")
        if change.type not in ("limit", "market"):
            raise SimError(e.INVALID_TYPE, f"Invalid plan order type {change.type!r}")
        check_price_type(change.price_type)
        check_price(contract, change.trigger_price, "trigger_price")
        executive = Decimal(0)
        if change.type == "limit":
            if change.executive_price is None:
                raise SimError(e.INVALID_REQUEST, "executive_price is required for a limit plan")
            check_price(contract, change.executive_price, "executive_price")
            executive = change.executive_price
        ticks = contract.to_ticks(change.trigger_price)
        rising = plan.price_way == PRICE_WAY_RISE
        refuse_immediate_trigger(book, ticks, rising)
        book.disarm(plan)
        plan.type = "limit" if change.type == "limit" else "market"
        plan.trigger_price, plan.trigger_ticks = change.trigger_price, ticks
        plan.executive_price = executive
        plan.price_type = change.price_type
        plan.update_time = self._clock()
        book.arm(plan, rising)
        return plan

    # ------------------------------------------------------------------ firing

    def fire(self, plan_id: int, send: PlanOrderSender) -> Order | None:
        """Execute a plan whose trigger was reached; returns the order it sent, if any."""
        plan = self._active.pop(plan_id, None)
        if plan is None:
            return None
        plan.state = PLAN_STATE_TRIGGERED
        plan.update_time = self._clock()
        if plan.is_tp_sl:
            position = self._account.position(plan.symbol, position_type_of(plan.side))
            if position is not None:
                position.plan_ids.discard(plan.order_id)
            if position is None or position.hold == 0:
                plan.state = PLAN_STATE_CANCELLED
                return None
            whole = plan.plan_category == 2 or plan.size == 0
            req = OrderRequest(
                symbol=plan.symbol,
                side=plan.side,
                size=position.hold if whole else min(plan.size, position.hold),
                type="limit" if plan.executive_price else "market",
                price=plan.executive_price or None,
            )
            origin: OrderOrigin = "take_profit" if plan.type == "take_profit" else "stop_loss"
        else:
            req = OrderRequest(
                symbol=plan.symbol,
                side=plan.side,
                size=plan.size,
                type=plan.type,
                price=plan.executive_price if plan.type == "limit" else None,
                mode=plan.mode,
                leverage=plan.leverage,
                open_type=plan.open_type,
                client_order_id=plan.client_order_id
                if plan.client_order_id not in self._ledger.by_client_id
                else "",
                preset_tp=plan.preset_tp,
                preset_tp_type=plan.preset_tp_type or 1,
                preset_sl=plan.preset_sl,
                preset_sl_type=plan.preset_sl_type or 1,
            )
            origin = "plan_order"
        try:
            order = send(req, origin=origin, plan=plan)
        except SimError:
            plan.state = PLAN_STATE_CANCELLED
            return None
        plan.executive_order_id = order.order_id
        return order

    # ------------------------------------------------------------------ book-keeping

    def _register(self, plan: PlanOrder) -> None:
        self._plans[plan.order_id] = plan
        self._active[plan.order_id] = plan
        if plan.client_order_id:
            self._by_client_id[plan.client_order_id] = plan.order_id

    def _cancel(self, plan: PlanOrder) -> None:
        self._market.books[plan.symbol].disarm(plan)
        self._active.pop(plan.order_id, None)
        plan.state = PLAN_STATE_CANCELLED
        plan.update_time = self._clock()
        if plan.is_tp_sl:
            position = self._account.position(plan.symbol, position_type_of(plan.side))
            if position is not None:
                position.plan_ids.discard(plan.order_id)

    def _find_active(
        self, symbol: str, order_id: int | None, client_order_id: str | None
    ) -> PlanOrder:
        self._market.book(symbol)
        if order_id is None and client_order_id:
            order_id = self._by_client_id.get(client_order_id)
        plan = self._active.get(order_id) if order_id is not None else None
        if plan is None or plan.symbol != symbol:
            raise SimError(e.ORDER_NOT_EXIST, "Plan order not exist")
        return plan
