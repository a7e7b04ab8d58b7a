"""The Binance REST front: routing, authentication, rate limits, errors, JSON.

Order of checks as a client meets them: unknown path (404), rate limit (429), the
route's security (API key -2014/-2015 with 401, timestamp -1021, signature -1022), then
the endpoint's own rules (4xx with Binance's code). Every answer carries the rate-limit
headers. Parameters are read from the query string and the form body alike.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from zoneguard.sim.binance import errors as e
from zoneguard.sim.binance import routes_account, routes_algo, routes_market, routes_trade
from zoneguard.sim.binance.auth import check_key, check_signed
from zoneguard.sim.binance.errors import BinanceError
from zoneguard.sim.binance.limits import Limits, Usage
from zoneguard.sim.binance.memory import Memory
from zoneguard.sim.binance.routing import Call, Route
from zoneguard.sim.errors import SimError
from zoneguard.sim.state import SimState

ROUTES: dict[tuple[str, str], Route] = {
    **routes_market.ROUTES,
    **routes_trade.ROUTES,
    **routes_algo.ROUTES,
    **routes_account.ROUTES,
}


def json_reply(status: int, data: object, headers: dict[str, str]) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


def error_reply(err: BinanceError, headers: dict[str, str]) -> web.Response:
    return json_reply(err.http_status, {"code": err.code, "msg": err.msg}, headers)


def merged_params(raw_query: str, raw_body: str) -> dict[str, str]:
    """Query and body parameters, decoded; the body wins a name sent in both."""
    params = dict(parse_qsl(raw_query, keep_blank_values=True))
    params.update(parse_qsl(raw_body, keep_blank_values=True))
    return params


class BinanceRest:
    def __init__(self, state: SimState) -> None:
        self._state = state
        self._memory = self._new_memory()
        self._limits = Limits(enforce=state.config.rate_limits)

    @property
    def memory(self) -> Memory:
        """The dialect's memory of the current engine (a new one after ``/_sim/reset``)."""
        if self._memory.engine is not self._state.engine:
            self._memory = self._new_memory()
        return self._memory

    def _new_memory(self) -> Memory:
        validity_ms = round(self._state.config.binance_listen_key_validity_s * 1000)
        return Memory(self._state.engine, validity_ms)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        state = self._state
        state.requests[request.path] += 1
        route = ROUTES.get((request.method, request.path))
        if route is None:
            missing = BinanceError(e.UNKNOWN, f"No such endpoint {request.method} {request.path}")
            missing.http_status = 404
            return error_reply(missing, {})
        raw_query = request.rel_url.raw_query_string
        raw_body = (await request.read()).decode("utf-8", errors="replace")
        params = merged_params(raw_query, raw_body)
        engine = state.engine
        usage = self._limits.hit(
            request.remote or "local", route.weight_of(params), route.counts_order, engine.now_ms()
        )
        headers = usage.headers()
        refusal = self._over_limit(usage)
        if refusal is not None:
            return error_reply(refusal, headers)
        try:
            if route.security == "KEY":
                check_key(request.headers, state.credentials)
            elif route.security == "SIGNED":
                check_signed(
                    request.headers, raw_query, raw_body, params, state.credentials, engine.now_ms()
                )
            data = route.handler(Call(engine, self.memory, params))
        except BinanceError as err:
            return error_reply(err, headers)
        except SimError as err:  # an engine refusal no route translated itself
            return error_reply(e.from_engine(err), headers)
        finally:
            state.publish_account()
        return json_reply(200, data, headers)

    @staticmethod
    def _over_limit(usage: Usage) -> BinanceError | None:
        if usage.weight_exceeded:
            return BinanceError(
                e.TOO_MANY_REQUESTS,
                "Too many requests; current limit is 2400 requests per minute.",
                429,
            )
        if usage.orders_exceeded:
            return BinanceError(e.TOO_MANY_ORDERS, "Too many new orders.", 429)
        return None
