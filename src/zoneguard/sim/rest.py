"""The BitMart REST front: routing, authentication, rate limits, envelopes, faults.

Order of checks, as a client meets them on BitMart: unknown path (30000/404), then the
authentication level of the route (300xx/401), then the rate limit (30013/429), then the
body (30018/503 when not JSON), then the business rules of the endpoint (4xxxx/400).
Every reply carries the ``X-BM-RateLimit-*`` headers of its bucket.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import orjson
from aiohttp import web

from zoneguard.sim import errors as e
from zoneguard.sim import params as p
from zoneguard.sim import routes_account, routes_funds, routes_market, routes_trade, routes_waiting
from zoneguard.sim.auth import check_key, check_recv_window, check_signed
from zoneguard.sim.errors import SimError
from zoneguard.sim.params import Params, StrictBody
from zoneguard.sim.ratelimit import RateRule, Verdict
from zoneguard.sim.routing import Route
from zoneguard.sim.state import SimState

ROUTES: dict[str, Route] = {
    **routes_market.ROUTES,
    **routes_account.ROUTES,
    **routes_trade.ROUTES,
    **routes_waiting.ROUTES,
    **routes_funds.ROUTES,
}
DEFAULT_RECV_WINDOW_MS = 5000
UNKNOWN_PATH_RULE = RateRule(limit=12, keyed_by="IP")
ACCOUNT_CALLER = "account"  # one simulated account: the UID buckets have one caller


def envelope(code: int, message: str, data: object) -> bytes:
    return orjson.dumps(
        {"code": code, "message": message, "data": data, "trace": str(uuid.uuid4())}
    )


def reply(status: int, body: bytes, verdict: Verdict) -> web.Response:
    return web.Response(
        body=body, status=status, content_type="application/json", headers=verdict.headers()
    )


def error_reply(err: SimError, verdict: Verdict) -> web.Response:
    return reply(err.http_status, envelope(err.code, err.message, None), verdict)


LOOKUP_PATHS = frozenset(
    {
        "/contract/private/order",
        "/contract/private/get-open-orders",
        "/contract/private/order-history",
    }
)
"""Order reads that the ``lookup_lag_ms`` fault makes lag behind the writes."""


def hide_young_orders(data: object, created_before_ms: int) -> object:
    """The lookup's answer as a lagging read would give it: orders created after
    ``created_before_ms`` are not there yet (one order: "Order not exist")."""
    if isinstance(data, list):
        return [row for row in data if _created(row) <= created_before_ms]
    if _created(data) > created_before_ms:
        raise SimError(e.ORDER_NOT_EXIST, "Order not exist")
    return data


def _created(row: object) -> int:
    created = row.get("create_time") if isinstance(row, dict) else None
    return int(created) if isinstance(created, int | str) and str(created).isdigit() else 0


class RestApi:
    def __init__(self, state: SimState) -> None:
        self._state = state

    async def handle(self, request: web.Request) -> web.StreamResponse:
        state = self._state
        path = request.path
        state.requests[path] += 1
        now_s = time.monotonic()
        ip = request.remote or "local"
        route = ROUTES.get(path)
        if route is None or route.method != request.method:
            verdict = state.limiter.peek("unknown", ip, UNKNOWN_PATH_RULE, now_s)
            return error_reply(SimError(e.NOT_FOUND, "Not found"), verdict)

        body = await request.read() if route.method == "POST" else b""
        caller = {"IP": ip, "KEY": state.credentials.api_key, "UID": ACCOUNT_CALLER}[
            route.rule.keyed_by
        ]
        try:
            if route.auth == "keyed":
                check_key(request.headers, state.credentials)
            elif route.auth == "signed":
                check_signed(request.headers, body, state.credentials, state.engine.now_ms())
        except SimError as err:
            return error_reply(err, state.limiter.peek(path, caller, route.rule, now_s))

        verdict = state.limiter.hit(path, caller, route.rule, now_s)
        if not verdict.allowed:
            return error_reply(SimError(e.TOO_MANY_REQUESTS, "Request too many requests"), verdict)

        response, executed_order = self._execute(route, path, request, body, verdict)
        if state.faults.rest_delay_ms:
            await asyncio.sleep(state.faults.rest_delay_ms / 1000)
        if executed_order:
            fault = state.faults.take_response_fault()
            if fault is not None:
                if fault.mode == "503":
                    return error_reply(
                        SimError(e.SERVICE_UNAVAILABLE, "Service is unavailable"), verdict
                    )
                if fault.mode == "drop":
                    return await self._drop(request)
                await asyncio.sleep(fault.delay_ms / 1000)
        return response

    def _execute(
        self, route: Route, path: str, request: web.Request, body: bytes, verdict: Verdict
    ) -> tuple[web.Response, bool]:
        """Run the handler; returns the reply and whether a submit-order was executed."""
        state = self._state
        try:
            params = self._params(request, route, body, state.config.strict_types)
            if route.recv_window:
                window = p.integer(params, "recvWindow", DEFAULT_RECV_WINDOW_MS)
                assert window is not None
                check_recv_window(request.headers, window, state.engine.now_ms())
            if path == routes_trade.SUBMIT_ORDER_PATH:
                rejection = state.faults.take_rejection(routes_trade.is_reduce_only(params))
                if rejection is not None:
                    raise rejection
            elif path == routes_trade.CANCEL_ORDER_PATH:
                refusal = state.faults.take_cancel_rejection()
                if refusal is not None:
                    raise refusal
            data = route.handler(state.engine, params)
            if state.faults.lookup_lag_ms and path in LOOKUP_PATHS:
                data = hide_young_orders(data, state.engine.now_ms() - state.faults.lookup_lag_ms)
        except SimError as err:
            return error_reply(err, verdict), False
        finally:
            state.publish_account()
        executed = path == routes_trade.SUBMIT_ORDER_PATH
        return reply(200, envelope(1000, "Ok", data), verdict), executed

    @staticmethod
    def _params(request: web.Request, route: Route, body: bytes, strict: bool) -> Params:
        if route.method == "GET":
            return request.query
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise SimError(e.BODY_NOT_JSON, "Request Body requires JSON format") from None
        if not isinstance(decoded, dict):
            raise SimError(e.PARSE_ERROR, "Request body must be a JSON object")
        return StrictBody(decoded) if strict else decoded

    @staticmethod
    async def _drop(request: web.Request) -> web.StreamResponse:
        """Close the connection without a reply: the client cannot know the outcome."""
        transport = request.transport
        if transport is not None:
            transport.abort() if hasattr(transport, "abort") else transport.close()
        raise asyncio.CancelledError
