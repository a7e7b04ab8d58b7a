"""The seed's HttpControlServer: the worker's control API (FastAPI, OpenAPI at ``/docs``).

Seed endpoints keep their names and shapes: ``POST /api/place-order``,
``GET /api/orders/status`` (with ``monitored_positions``), ``POST /klines/subscribe``,
``POST /positions/subscribe``, ``GET /status`` (with ``kline_channels`` and
``position_subscribed``). Bad input is a 4xx whose body names the field, never a 500.
With ``ZONEGUARD_API_TOKEN`` set, everything but ``/health`` needs ``Authorization: Bearer``.
A body larger than ``ZONEGUARD_WORKER_MAX_BODY_BYTES`` is refused (413) without being read:
this server runs in the loop that fires stop-losses. What each route answers is documented
in :mod:`zoneguard.worker.api_docs`.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from fastapi import Depends, FastAPI, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from zoneguard.domain.plan_schema import (
    ID_PATTERN,
    SYMBOL_PATTERN,
    monitor_position_schema,
    place_order_schema,
)
from zoneguard.exchange.errors import ExchangeError, MarketUnavailable
from zoneguard.web.body_limit import BodyLimit
from zoneguard.worker import api_docs as docs
from zoneguard.worker.contract_route import add_contract_route
from zoneguard.worker.service import Answer, WorkerService, field_errors

KLINE_TIMEFRAMES = docs.KLINE_TIMEFRAMES
_SYMBOL = re.compile(SYMBOL_PATTERN)
EVENT_ID_PATTERN = "^[A-Za-z0-9_-]{1,64}$"

DESCRIPTION = """Entry-zone orders with stop-loss / take-profit on BitMart USDT-M futures.

Every 4xx answers `{"ok": false, "error": "<field>: <message>; ...", "fields": [{"field",
"message"}]}`, naming each bad field. A request body larger than the limit
(`ZONEGUARD_WORKER_MAX_BODY_BYTES`, 64 KiB by default) is refused with 413 before it is read.
"""


def _answer(answer: Answer) -> JSONResponse:
    return JSONResponse(answer.body, status_code=answer.status)


def _bad_fields(
    status: int, problems: Iterable[tuple[str, str]], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(field_errors(problems, status).body, status_code=status, headers=headers)


def _bad(status: int, field: str, message: str) -> JSONResponse:
    return _bad_fields(status, [(field, message)])


async def _json_object(request: Request) -> dict[str, Any] | JSONResponse:
    raw = await request.body()
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        return _bad(400, "body", f"not valid JSON ({exc})")
    if not isinstance(data, dict):
        return _bad(400, "body", "must be a JSON object")
    return data


def _validation_field(loc: Iterable[Any]) -> str:
    """Pydantic's error location as our field name (``("query", "limit")`` -> ``limit``)."""
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


_HTTP_ERROR_FIELDS = {404: "path", 405: "method"}


def create_app(worker: WorkerService, api_token: str | None) -> FastAPI:
    app = FastAPI(title="Zoneguard worker", version="1", description=DESCRIPTION)
    app.add_middleware(BodyLimit, max_bytes=worker.settings.max_body_bytes)
    guard = _guard(app, api_token)
    needs_token = api_token is not None

    def answers(
        ok: dict[int, tuple[type[Any], str]], *more: Mapping[int, Any]
    ) -> dict[int | str, Any]:
        return docs.answers(ok, *more, auth=needs_token)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [(_validation_field(e["loc"]), str(e["msg"])) for e in exc.errors()]
        return _bad_fields(422, problems or [("body", "invalid")])

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        field = _HTTP_ERROR_FIELDS.get(exc.status_code, "request")
        if exc.status_code == 404:
            message = f"{request.url.path[:100]} is not a route of this API (see /docs)"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed here"
        else:
            message = str(exc.detail)
        return _bad_fields(exc.status_code, [(field, message)], headers=exc.headers)

    @app.exception_handler(ExchangeError)
    async def _exchange_down(_request: Request, exc: ExchangeError) -> JSONResponse:
        return JSONResponse({"ok": False, "error": f"exchange unavailable: {exc}"}, 503)

    @app.get(
        "/health",
        response_model=None,
        responses=docs.answers({200: (docs.Health, "up")}, auth=False),
    )
    async def health() -> dict[str, Any]:
        """Liveness and readiness (no token needed)."""
        return {"status": "ok" if worker.ready else "starting", "ready": worker.ready}

    @app.post(
        "/api/place-order",
        dependencies=guard,
        response_model=None,
        openapi_extra=docs.body_doc(
            place_order_schema(timeout_default=worker.defaults.timeout_seconds)
        ),
        responses=answers(
            {200: (docs.OrderAccepted, "accepted, or the same body again (duplicate)")},
            docs.NOT_JSON,
            {409: docs.error("id used for another body, or the side is busy")},
            docs.INVALID,
            docs.UNAVAILABLE,
        ),
    )
    async def place_order(request: Request) -> Response:
        """Queue an order: placed post-only when the price enters the zone, then guarded."""
        body = await _json_object(request)
        if isinstance(body, JSONResponse):
            return body
        if not worker.ready:
            return JSONResponse({"ok": False, "error": "worker is starting"}, status_code=503)
        return _answer(await worker.place_order(body))

    @app.post(
        "/api/monitor-position",
        dependencies=guard,
        response_model=None,
        openapi_extra=docs.body_doc(
            monitor_position_schema(timeout_default=worker.defaults.timeout_seconds)
        ),
        responses=answers(
            {200: (docs.PositionGuarded, "the open position is guarded")},
            docs.NOT_JSON,
            {409: docs.error("id used for another body, or the side is busy")},
            {422: docs.error("a field is invalid, or there is no such position")},
            docs.UNAVAILABLE,
        ),
    )
    async def monitor_position(request: Request) -> Response:
        """Guard with SL/TP a position opened outside the worker."""
        body = await _json_object(request)
        if isinstance(body, JSONResponse):
            return body
        return _answer(await worker.monitor_position(body))

    @app.get(
        "/api/orders/status",
        dependencies=guard,
        response_model=None,
        responses=answers({200: (docs.OrdersStatus, "every live order, by kind")}),
    )
    async def orders_status() -> dict[str, Any]:
        """Waiting orders, active ones and ``monitored_positions``."""
        return worker.orders_status()

    @app.get(
        "/api/orders/{order_id}",
        dependencies=guard,
        response_model=None,
        responses=answers(
            {200: (docs.OrderDetail, "the order")},
            {404: docs.error("no such order")},
            docs.INVALID,
        ),
    )
    async def order_detail(order_id: str = _order_id()) -> Response:
        """One order: its plan, facts and every transition."""
        detail = worker.order_detail(order_id)
        if detail is None:
            return _bad(404, "order_id", f"{order_id} is unknown")
        return JSONResponse(detail)

    @app.post(
        "/api/orders/{order_id}/cancel",
        dependencies=guard,
        response_model=None,
        responses=answers(
            {
                200: (docs.OrderAction, "cancelled (it was still waiting for its zone)"),
                202: (docs.OrderAction, "cancelling (an entry is on the exchange)"),
            },
            {404: docs.error("no such order")},
            {409: docs.error("the order is past cancelling (ended, or a position)")},
            docs.INVALID,
        ),
    )
    async def cancel(order_id: str = _order_id()) -> Response:
        """Cancel an order still waiting or placed (fills already made stay guarded)."""
        return _answer(await worker.cancel(order_id))

    @app.post(
        "/api/orders/{order_id}/close",
        status_code=202,
        dependencies=guard,
        response_model=None,
        responses=answers(
            {202: (docs.OrderAction, "closing at market")},
            {404: docs.error("no such order")},
            {409: docs.error("the order holds no position")},
            docs.INVALID,
        ),
    )
    async def close(order_id: str = _order_id()) -> Response:
        """Close a guarded position now, at market."""
        return _answer(await worker.close(order_id))

    @app.get(
        "/api/callbacks/refused",
        dependencies=guard,
        response_model=None,
        responses=answers({200: (docs.RefusedCallbacks, "the callbacks set aside")}),
    )
    async def refused_callbacks() -> dict[str, Any]:
        """Callbacks set aside after the receiver refused them as invalid (4xx) repeatedly;
        the order's later callbacks went on without them."""
        return worker.refused_callbacks()

    @app.post(
        "/api/callbacks/{event_id}/retry",
        status_code=202,
        dependencies=guard,
        response_model=None,
        responses=answers(
            {202: (docs.CallbackQueued, "queued for delivery again")},
            {404: docs.error("no such set-aside callback")},
            docs.INVALID,
        ),
    )
    async def retry_callback(event_id: str = Path(pattern=EVENT_ID_PATTERN)) -> Response:
        """Send a set-aside callback again."""
        return _answer(worker.retry_callback(event_id))

    @app.post(
        "/klines/subscribe",
        dependencies=guard,
        response_model=None,
        openapi_extra=docs.body_doc(docs.KlineSubscribeBody.model_json_schema()),
        responses=answers(
            {200: (docs.KlinesSubscribed, "subscribed")},
            docs.NOT_JSON,
            {422: docs.error("a field is invalid, or the symbol is not traded")},
            docs.UNAVAILABLE,
        ),
    )
    async def klines_subscribe(request: Request) -> Response:
        """The seed's KlineWorker: subscribe klines of ``symbol`` for timeframes ``tfs``."""
        body = await _json_object(request)
        if isinstance(body, JSONResponse):
            return body
        symbol, problems = _symbol_and_problems(body)
        timeframes, tf_problem = _timeframes(body.get("tfs"))
        if tf_problem:
            problems.append(("tfs", tf_problem))
        if problems:
            return _bad_fields(422, problems)
        try:
            await worker.markets.spec(symbol)
        except MarketUnavailable as exc:
            return _bad(422, "symbol", f"{symbol} is not traded ({exc.message})")
        channels = await worker.markets.subscribe_klines(symbol, timeframes)
        await worker.markets.ensure_prices(symbol)
        return JSONResponse({"ok": True, "symbol": symbol, "tfs": channels})

    @app.get(
        "/api/market/{symbol}/klines",
        dependencies=guard,
        response_model=None,
        responses=answers(
            {200: (docs.Klines, "the bars, oldest first")},
            {404: docs.error("the symbol is not traded")},
            docs.INVALID,
            docs.UNAVAILABLE,
        ),
    )
    async def market_klines(
        symbol: str = Path(pattern=SYMBOL_PATTERN, examples=["BTCUSDT"]),
        tf: str = Query("1m", json_schema_extra={"enum": list(docs.TIMEFRAME_SPELLINGS)}),
        limit: int = Query(120, ge=1, le=500),
    ) -> Response:
        """Recent price bars of ``symbol`` (for charts), from the exchange."""
        timeframe = docs.TIMEFRAME_SPELLINGS.get(tf)
        if timeframe is None:
            return _bad(
                422, "tf", f"unknown timeframe {tf[:10]!r}; use {', '.join(KLINE_TIMEFRAMES)}"
            )
        symbol = symbol.upper()
        try:
            await worker.markets.spec(symbol)
        except MarketUnavailable as exc:
            return _bad(404, "symbol", f"{symbol} is not traded ({exc.message})")
        minutes = {"m": 1, "h": 60, "d": 1440, "w": 10080}
        step_s = int(timeframe[:-1]) * minutes[timeframe[-1]] * 60
        end = int(time.time())
        bars = await worker.exchange.klines(symbol, timeframe, end - step_s * limit, end)
        return JSONResponse(
            {
                "symbol": symbol,
                "tf": timeframe,
                "bars": [
                    {
                        "t": bar.open_time_s,
                        "o": str(bar.open),
                        "h": str(bar.high),
                        "l": str(bar.low),
                        "c": str(bar.close),
                        "v": str(bar.volume),
                    }
                    for bar in bars
                ],
            }
        )

    add_contract_route(app, worker, guard, needs_token=needs_token)

    @app.post(
        "/positions/subscribe",
        dependencies=guard,
        response_model=None,
        responses=answers(
            {200: (docs.PositionsSubscribed, "subscribed")},
            docs.UNAVAILABLE,
        ),
    )
    async def positions_subscribe() -> dict[str, Any]:
        """The seed's PositionWorker: subscribe the private order/position streams."""
        await worker.markets.ensure_account()
        return {"ok": True, "position_subscribed": worker.markets.position_subscribed}

    @app.get(
        "/status",
        dependencies=guard,
        response_model=None,
        responses=answers({200: (docs.WorkerStatus, "the worker's state")}),
    )
    async def status() -> dict[str, Any]:
        """Health, ``kline_channels``, ``position_subscribed``, connections, counts, and the
        placement and callback success rates."""
        return worker.status()

    @app.get(
        "/metrics",
        dependencies=guard,
        response_model=None,
        response_class=Response,  # no default media type: 200 is text, errors stay JSON
        responses={**answers({}), **docs.METRICS_DOC},
    )
    async def metrics() -> Response:
        """Prometheus metrics, success-rate gauges included."""
        worker.orders_status()
        worker.status()
        return Response(generate_latest(worker.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _symbol_and_problems(body: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    symbol = body.get("symbol")
    if symbol is None:
        return "", [("symbol", "is required, e.g. BTCUSDT")]
    if not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol):
        return "", [("symbol", "must be 2..30 letters or digits, e.g. BTCUSDT")]
    return symbol.upper(), []


def _timeframes(value: object) -> tuple[list[str], str]:
    """``tfs`` in our spelling, or why it is refused."""
    example = 'a non-empty list such as ["1m"]'
    if value is None:
        return [], f"is required: {example}"
    if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
        return [], f"must be {example}"
    wrong = [tf for tf in value if tf not in docs.TIMEFRAME_SPELLINGS]
    if wrong:
        return [], f"unknown timeframe {wrong[0][:10]!r}; use {', '.join(KLINE_TIMEFRAMES)}"
    return [docs.TIMEFRAME_SPELLINGS[tf] for tf in value], ""


def _order_id() -> Any:
    return Path(pattern=ID_PATTERN, examples=["test-order-123"])


class _Unauthorised(Exception):
    pass


def _guard(app: FastAPI, api_token: str | None) -> list[Any]:
    """The routes' token dependency (none without a token). The OpenAPI document declares
    the bearer scheme only when a token is set: it describes the server as it runs."""
    if api_token is None:
        return []
    expected = f"Bearer {api_token}".encode()
    scheme = HTTPBearer(auto_error=False, description="the worker's ZONEGUARD_API_TOKEN")

    async def authorised(request: Request, _scheme: Any = Security(scheme)) -> None:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), expected):
            raise _Unauthorised()

    @app.exception_handler(_Unauthorised)
    async def _unauthorised(_request: Request, _exc: _Unauthorised) -> JSONResponse:
        return _bad(401, "authorization", "missing or wrong bearer token")

    return [Depends(authorised)]
