"""The seed's OrderPlacementService: every exchange write, under the failure policy.

- accepted: the exchange id is returned;
- rate limited: wait as told, then the *same* request again;
- unknown outcome (timeout, reset, 5xx): ask the exchange by ``client_order_id`` until it
  answers; found means accepted, absent means resend with the same ``client_order_id``
  (so the exchange itself refuses a double: 40050 -> look it up again);
- definitive rejections are raised to the caller, who decides (re-price, fail, retry close).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Protocol, TypeVar, runtime_checkable

from zoneguard.domain.contract import ContractSpec, round_price
from zoneguard.domain.market import OrderInfo, OrderType, TimeInForce
from zoneguard.domain.pricing import maker_entry_price
from zoneguard.domain.values import MarginMode, Side, Symbol
from zoneguard.exchange.errors import (
    DuplicateClientOrderId,
    ExchangeError,
    RateLimited,
    UnknownOutcome,
)
from zoneguard.exchange.port import ExchangePort, OrderRequest, PlacedOrder
from zoneguard.worker.config import ExchangeBackstopConfig
from zoneguard.worker.markets import Markets
from zoneguard.worker.order_queue import WorkerOrder

log = logging.getLogger("zoneguard.worker.placement")

ASK_BACKOFF_S = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
"""Pauses between two questions to an exchange that did not answer; the last one repeats."""


def backoff_s(attempt: int) -> float:
    base = ASK_BACKOFF_S[min(attempt, len(ASK_BACKOFF_S) - 1)]
    return base * (0.8 + 0.4 * random.random())


_T = TypeVar("_T")


@runtime_checkable
class SendsOrdersNow(Protocol):
    """An exchange that can put an order on the wire synchronously (BitMart's order lane):
    ``place_order_now`` has written the request when it returns an awaitable, or returns
    None having sent nothing."""

    def place_order_now(self, request: OrderRequest) -> Awaitable[PlacedOrder] | None: ...


class OrderPlacementService:
    def __init__(
        self, exchange: ExchangePort, markets: Markets, backstop: ExchangeBackstopConfig
    ) -> None:
        self.exchange = exchange
        self.markets = markets
        self.backstop = backstop
        self._leverage_done: set[tuple[Symbol, Decimal, MarginMode]] = set()
        self._send_now = exchange.place_order_now if isinstance(exchange, SendsOrdersNow) else None

    def leverage_ready(self, symbol: Symbol, leverage: Decimal) -> bool:
        """Whether :meth:`ensure_leverage` has nothing left to do for this pair."""
        return (symbol, leverage, MarginMode.ISOLATED) in self._leverage_done

    async def ensure_leverage(self, symbol: Symbol, leverage: Decimal) -> None:
        """Set leverage once per symbol and value (BitMart keeps it per symbol)."""
        key = (symbol, leverage, MarginMode.ISOLATED)
        if key in self._leverage_done:
            return
        await self._persist(lambda: self.exchange.set_leverage(symbol, leverage, key[2]))
        self._leverage_done.add(key)

    def entry_price(self, order: WorkerOrder, spec: ContractSpec) -> Decimal | None:
        """Best post-only price inside the (widened) zone from the freshest quote."""
        quote = self.markets.quote(order.symbol)
        if quote is None:
            return None
        return maker_entry_price(
            order.side,
            order.zone_low,
            order.zone_high,
            quote.last,
            quote.bid,
            quote.ask,
            spec.tick_size,
        )

    def backstop_levels(
        self, order: WorkerOrder, spec: ContractSpec
    ) -> tuple[Decimal | None, Decimal | None]:
        """Preset (stop_loss, take_profit) for the exchange: ``offset_percent`` beyond the
        signal's levels, rounded to the tick away from the entry."""
        if order.preset_levels is not None:  # fixed by the plan: computed once per order
            return order.preset_levels
        order.preset_levels = self._backstop_levels(order, spec)
        return order.preset_levels

    def _backstop_levels(
        self, order: WorkerOrder, spec: ContractSpec
    ) -> tuple[Decimal | None, Decimal | None]:
        plan = order.plan
        if not self.backstop.enabled:
            return None, None
        stop = take = None
        if plan.stop_loss is not None:
            stop = self.backstop_stop(plan.side, plan.stop_loss, spec)
        take_profit = plan.final_take_profit  # a ladder's backstop: past its last rung
        if take_profit is not None:
            take = self.backstop_take(plan.side, take_profit, spec)
        return stop, take

    def backstop_take(self, side: Side, take: Decimal, spec: ContractSpec) -> Decimal:
        """The exchange-side take-profit for ``take``: ``offset_percent`` beyond it, on the
        tick away from the entry."""
        offset = self.backstop.offset_percent / Decimal(100)
        if side is Side.LONG:
            return round_price(spec, take * (1 + offset), "up")
        return round_price(spec, take * (1 - offset), "down")

    def backstop_stop(self, side: Side, stop: Decimal, spec: ContractSpec) -> Decimal:
        """The exchange-side stop for our ``stop``: ``offset_percent`` beyond it, on the
        tick away from the price (the plan's, or one break-even or a trailing stop moved)."""
        offset = self.backstop.offset_percent / Decimal(100)
        if side is Side.LONG:
            return round_price(spec, stop * (1 - offset), "down")
        return round_price(spec, stop * (1 + offset), "up")

    def entry_request(
        self, order: WorkerOrder, price: Decimal, spec: ContractSpec, *, presets: bool = True
    ) -> OrderRequest:
        """The post-only entry; ``presets``: with the exchange-side SL/TP attached (not
        when the position is shared with other signals: a preset is the whole position's,
        see :mod:`zoneguard.worker.shared_backstop`)."""
        assert order.entry_client_id is not None
        preset_stop, preset_take = self.backstop_levels(order, spec) if presets else (None, None)
        return post_only_entry(
            order, order.contracts, price, order.entry_client_id, preset_stop, preset_take
        )

    def close_request(self, order: WorkerOrder, contracts: Decimal) -> OrderRequest:
        """Reduce-only, at market; the attempt :func:`close_limit` names is a limit IOC
        instead (a take-profit's first close). Decided by the attempt, so a resend of the
        same client id is the same order."""
        assert order.close_client_id is not None
        return reduce_only_request(order, contracts, order.close_client_id, close_limit(order))

    def start_submit(self, request: OrderRequest) -> Awaitable[PlacedOrder]:
        """:meth:`submit`, with the first attempt already on the wire when this returns if
        the exchange can send synchronously (else it is sent when the awaitable runs).
        Never raises: a request refused before sending raises from the awaitable."""
        if self._send_now is not None:
            try:
                first = self._send_now(request)
            except ExchangeError as exc:
                return _raise(exc)
            if first is not None:
                return self.submit(request, first=first)
        return self.submit(request)

    async def submit(
        self, request: OrderRequest, *, first: Awaitable[PlacedOrder] | None = None
    ) -> PlacedOrder:
        """Place ``request`` exactly once, whatever the network does (see module doc).
        ``first``: an attempt already sent (by :meth:`start_submit`), awaited first."""
        cid = request.client_order_id
        assert cid is not None, "every order we send carries a client_order_id"
        attempt = 0
        while True:
            try:
                if first is not None:
                    sent, first = first, None
                    return await sent
                return await self.exchange.place_order(request)
            except RateLimited as exc:
                log.warning("rate limited placing %s; retry in %.2fs", cid, exc.retry_after_s)
                await asyncio.sleep(exc.retry_after_s)
            except DuplicateClientOrderId:
                existing = await self.find_existing(request.symbol, cid)
                return PlacedOrder(existing.order_id, existing.price)
            except UnknownOutcome as exc:
                log.warning("outcome of %s unknown (%s): asking the exchange", cid, exc)
                try:
                    found = await self.find(request.symbol, cid)
                except ExchangeError as lookup_error:
                    # Not knowing is not "absent": resend the same client id, which the
                    # exchange refuses to double (40050 -> find_existing).
                    log.warning("lookup of %s failed (%s)", cid, lookup_error)
                    found = None
                if found is not None:
                    return PlacedOrder(found.order_id, found.price)
                log.warning("%s not seen on the exchange: sending it again", cid)
                await asyncio.sleep(backoff_s(attempt))
                attempt += 1

    async def find_existing(self, symbol: Symbol, client_order_id: str) -> OrderInfo:
        """An order the exchange says exists (it refused its client id as a duplicate):
        ask until it shows it. Its lookup may lag the refusal; calling the order failed
        meanwhile would leave a live order, and any fill of it, unwatched."""
        attempt = 0
        while True:
            try:
                found = await self.find(symbol, client_order_id)
            except ExchangeError as exc:
                log.warning("lookup of existing %s failed: %s", client_order_id, exc)
                found = None
            if found is not None:
                return found
            attempt += 1
            log.warning(
                "%s exists but is not shown yet (lookup %d): asking again",
                client_order_id,
                attempt,
            )
            await asyncio.sleep(backoff_s(attempt))

    async def find(self, symbol: Symbol, client_order_id: str) -> OrderInfo | None:
        """Ask the exchange for an order by client id until it gives an answer."""
        return await self._persist(lambda: self.exchange.find_order(symbol, client_order_id))

    async def get_order(self, symbol: Symbol, order_id: str) -> OrderInfo:
        return await self._persist(lambda: self.exchange.get_order(symbol, order_id))

    async def position_contracts(self, symbol: Symbol, side: Side) -> Decimal:
        """Contracts the exchange holds for ``symbol``/``side`` (0 when flat), asked until known."""
        positions = await self._persist(lambda: self.exchange.positions(symbol))
        return sum(
            (p.contracts for p in positions if p.symbol == symbol and p.side is side),
            Decimal(0),
        )

    async def cancel_entry(self, order: WorkerOrder) -> OrderInfo | None:
        """Cancel the working entry order; return its final state as the exchange knows it."""
        if order.entry_order_id is None and order.entry_client_id is None:
            return None
        try:
            await self._persist(
                lambda: self.exchange.cancel_order(
                    order.symbol,
                    order_id=order.entry_order_id,
                    client_order_id=None if order.entry_order_id else order.entry_client_id,
                )
            )
        except ExchangeError as exc:
            log.info("cancel of %s refused (%s): it may be finished already", order.order_id, exc)
        if order.entry_order_id is not None:
            return await self.get_order(order.symbol, order.entry_order_id)
        assert order.entry_client_id is not None
        return await self.find(order.symbol, order.entry_client_id)

    async def cancel_leftover_stops(self, symbol: Symbol, side: Side) -> int:
        """Cancel exchange-side TP/SL still waiting on a position that is now flat."""
        cancelled = 0
        try:
            stops = await self._persist(lambda: self.exchange.open_stops(symbol))
            for stop in stops:
                if stop.position_side is side:
                    try:
                        await self.exchange.cancel_stop(symbol, order_id=stop.order_id)
                        cancelled += 1
                    except ExchangeError as exc:
                        log.info("leftover stop %s not cancelled: %s", stop.order_id, exc)
        except ExchangeError as exc:
            log.warning("could not list leftover stops of %s: %s", symbol, exc)
        return cancelled

    async def close(self, order: WorkerOrder, contracts: Decimal) -> PlacedOrder:
        """Reduce-only market close; PositionNotFound means the position is (partly) gone."""
        return await self.submit(self.close_request(order, contracts))

    def start_close(self, order: WorkerOrder, contracts: Decimal) -> Awaitable[PlacedOrder]:
        """:meth:`close` with the request on the wire at once when possible (see
        :meth:`start_submit`)."""
        return self.start_submit(self.close_request(order, contracts))

    async def _persist(self, call: Callable[[], Awaitable[_T]]) -> _T:
        """Repeat a read-only or idempotent call while the outcome is unknown or rate limited."""
        attempt = 0
        while True:
            try:
                return await call()
            except RateLimited as exc:
                await asyncio.sleep(exc.retry_after_s)
            except UnknownOutcome as exc:
                log.warning("exchange did not answer (%s); asking again", exc)
                await asyncio.sleep(backoff_s(attempt))
                attempt += 1


def post_only_entry(
    order: WorkerOrder,
    contracts: Decimal,
    price: Decimal,
    client_order_id: str,
    preset_stop: Decimal | None = None,
    preset_take: Decimal | None = None,
) -> OrderRequest:
    """A post-only limit entry of ``contracts`` for ``order``'s position, with the
    exchange-side SL/TP attached when given."""
    plan = order.plan
    return OrderRequest(
        symbol=plan.symbol,
        position_side=plan.side,
        reduce_only=False,
        order_type=OrderType.LIMIT,
        contracts=contracts,
        price=price,
        time_in_force=TimeInForce.POST_ONLY,
        leverage=Decimal(plan.leverage),
        margin_mode=MarginMode.ISOLATED,
        client_order_id=client_order_id,
        preset_stop_loss=preset_stop,
        preset_take_profit=preset_take,
    )


def reduce_only_request(
    order: WorkerOrder, contracts: Decimal, client_order_id: str, limit: Decimal | None
) -> OrderRequest:
    """A reduce-only close of ``contracts`` of ``order``'s position: a limit IOC at
    ``limit``, or at market without one."""
    return OrderRequest(
        symbol=order.symbol,
        position_side=order.side,
        reduce_only=True,
        order_type=OrderType.MARKET if limit is None else OrderType.LIMIT,
        contracts=contracts,
        price=limit,
        time_in_force=TimeInForce.GTC if limit is None else TimeInForce.IOC,
        client_order_id=client_order_id,
    )


CLOSE_LIMIT = "close_limit"
"""Fact (in ``WorkerOrder.extra``): ``{"attempt": n, "price": "..."}``, the close attempt
sent as a limit IOC at that price."""


def close_limit(order: WorkerOrder) -> Decimal | None:
    """The limit of the current close attempt if it is the IOC, else None (market)."""
    limit = order.extra.get(CLOSE_LIMIT)
    if isinstance(limit, dict) and limit.get("attempt") == order.close_attempt:
        return Decimal(str(limit["price"]))
    return None


async def _raise(exc: ExchangeError) -> PlacedOrder:
    raise exc
