"""The simulator's own control API under ``/_sim/`` (plain JSON, no auth, never BitMart's).

* ``POST /_sim/price {"symbol","price"}``: move a price (pushes, fills, triggers).
* ``POST /_sim/fill {"symbol","order_id","contracts"}``: partly fill a resting order.
* ``GET /_sim/state``: orders, positions, plan and trail orders, fills, balances (futures and
  the spot wallet transfers use), prices, counters.
* ``POST /_sim/faults``: inject failures (see :mod:`zoneguard.sim.faults`).
* ``POST /_sim/reset``: a fresh account and market. ``GET /_sim/health``.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from zoneguard.sim import wire
from zoneguard.sim.decimals import fmt, fmt_money, to_decimal
from zoneguard.sim.errors import ORDER_NOT_EXIST, SimError
from zoneguard.sim.state import SimState


def json_reply(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def bad_request(message: str) -> web.Response:
    return json_reply({"error": message}, status=400)


class ControlApi:
    def __init__(self, state: SimState) -> None:
        self._state = state

    async def handle(self, request: web.Request) -> web.StreamResponse:
        action = request.path.removeprefix("/_sim/")
        method = request.method
        if action == "price" and method == "POST":
            return await self._price(request)
        if action == "fill" and method == "POST":
            return await self._fill(request)
        if action == "state" and method == "GET":
            return json_reply(self.snapshot())
        if action == "faults" and method == "POST":
            return await self._faults(request)
        if action == "reset" and method == "POST":
            self._state.reset()
            return json_reply({"reset": True})
        if action == "health" and method == "GET":
            return json_reply({"status": "ok", "connections": self._connection_counts()})
        return json_reply({"error": f"no control endpoint {method} {request.path}"}, status=404)

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any] | str:
        try:
            decoded = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return "body must be a JSON object"
        if not isinstance(decoded, dict):
            return "body must be a JSON object"
        return decoded

    async def _price(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, str):
            return bad_request(body)
        symbol = body.get("symbol")
        engine = self._state.engine
        if not isinstance(symbol, str) or symbol not in engine.symbols:
            return bad_request(f"symbol: unknown symbol {symbol!r}; known: {engine.symbols}")
        price = to_decimal(body.get("price"))
        if price is None or price <= 0:
            return bad_request(f"price: must be a positive number, got {body.get('price')!r}")
        filled = self._state.move_price(symbol, price)
        return json_reply(
            {
                "symbol": symbol,
                "price": fmt(engine.last_price(symbol)),
                "filled": [str(order_id) for order_id in filled],
            }
        )

    async def _fill(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, str):
            return bad_request(body)
        state = self._state
        symbol = body.get("symbol")
        if not isinstance(symbol, str) or symbol not in state.engine.symbols:
            return bad_request(f"symbol: unknown symbol {symbol!r}")
        raw_id = body.get("order_id")
        if not (isinstance(raw_id, int) or (isinstance(raw_id, str) and raw_id.isdigit())):
            return bad_request(f"order_id: must be an order id, got {raw_id!r}")
        contracts = body.get("contracts")
        if isinstance(contracts, bool) or not isinstance(contracts, int) or contracts < 1:
            return bad_request(f"contracts: must be a positive integer, got {contracts!r}")
        try:
            order = state.engine.fill_resting(symbol, int(raw_id), contracts)
        except SimError as err:
            status = 404 if err.code == ORDER_NOT_EXIST else 400
            return json_reply({"error": f"{err.code}: {err.message}"}, status=status)
        finally:
            state.publish_account()
        return json_reply(
            {
                "order_id": str(order.order_id),
                "deal_size": str(order.deal_size),
                "size": str(order.size),
                "state": order.state,
            }
        )

    async def _faults(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, str):
            return bad_request(body)
        state = self._state
        drop = body.get("drop_ws")
        if drop is not None and drop not in ("public", "private", "all"):
            return bad_request('drop_ws: must be "public", "private" or "all"')
        try:
            state.faults.apply(body)
        except ValueError as exc:
            return bad_request(str(exc))
        dropped = state.hub.drop(drop) if drop is not None else 0
        return json_reply({"faults": state.faults.describe(), "dropped": dropped})

    def _connection_counts(self) -> dict[str, int]:
        conns = self._state.hub.connections
        private = sum(1 for conn in conns if conn.private)
        return {"public": len(conns) - private, "private": private}

    def snapshot(self) -> dict[str, Any]:
        state = self._state
        engine = state.engine
        now = engine.now_ms()
        balance = engine.balance()
        orders = []
        for order in engine.orders():
            row = wire.order_rest(order)
            row["mode"] = order.mode
            row["origin"] = order.origin
            row["plan_order_id"] = "" if order.plan_order_id is None else str(order.plan_order_id)
            orders.append(row)
        positions = []
        for position in engine.positions():
            row = wire.position_v2_rest(position, engine, now)
            row["position_type"] = position.position_type
            row["pending_close"] = str(position.pending_close)
            positions.append(row)
        return {
            "time": now,
            "last_prices": {s: fmt(engine.last_price(s)) for s in engine.symbols},
            "balances": {
                "USDT": {
                    "wallet": fmt_money(balance.wallet),
                    "available": fmt_money(balance.available),
                    "frozen": fmt_money(balance.frozen),
                    "position_deposit": fmt_money(balance.position_deposit),
                    "unrealized": fmt_money(balance.unrealized),
                    "equity": fmt_money(balance.equity),
                    "spot": fmt_money(engine.funds.spot_balance),
                }
            },
            "orders": orders,
            "open_order_ids": [str(order.order_id) for order in engine.open_orders()],
            "positions": positions,
            "plan_orders": [wire.plan_rest(plan) for plan in engine.plans()],
            "trail_orders": [wire.trail_rest(trail) for trail in engine.trails()],
            "fills": [wire.trade_rest(fill) for fill in engine.fills()],
            "counters": {"requests": dict(state.requests)},
            "connections": self._connection_counts(),
            "faults": state.faults.describe(),
            "replay": None if state.replay is None else state.replay.progress(),
        }
