"""The seed's HttpControlServer: the worker's control API (FastAPI, OpenAPI at ``/docs``).

Seed endpoints keep their names and shapes: ``POST /api/place-order``,
``GET /api/orders/status`` (with ``monitored_positions``), ``POST /klines/subscribe``,
``POST /positions/subscribe``, ``GET /status`` (with ``kline_channels`` and
``position_subscribed``). Bad input is a 4xx whose message names the field, never a 500.
With ``ZONEGUARD_API_TOKEN`` set, everything but ``/health`` needs ``Authorization: Bearer``.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from zoneguard.exchange.errors import ExchangeError, MarketUnavailable
from zoneguard.worker.contract_route import add_contract_route
from zoneguard.worker.service import Answer, WorkerService

KLINE_TIMEFRAMES = ("1m", "5m", "15m", "30m", "1h", "2h", "4h", "1d", "1w")


class PlaceOrderBody(BaseModel):
    """The seed's payload (documentation only: the worker validates it itself, field by field)."""

    id: str = Field(examples=["test-order-123"])
    symbol: str = Field(examples=["BTCUSDT"])
    side: str = Field(examples=["long"], description="long or short")
    entry_zone_min: float = Field(examples=[65000])
    entry_zone_max: float = Field(examples=[65500])
    quantity: float = Field(examples=[0.01], description="base currency (0.01 BTC)")
    leverage: int | None = Field(default=None, examples=[10])
    stop_loss: float | None = Field(default=None, examples=[64000])
    take_profit: float | None = Field(default=None, examples=[68000])
    timeout_seconds: int | None = Field(default=None, examples=[300])
    callback_url: str | None = None
    metadata: dict[str, Any] | None = None


class MonitorPositionBody(BaseModel):
    id: str
    symbol: str
    side: str
    stop_loss: float | None = None
    take_profit: float | None = None
    timeout_seconds: int | None = None
    callback_url: str | None = None
    metadata: dict[str, Any] | None = None


class KlineSubscribeBody(BaseModel):
    symbol: str = Field(examples=["BTCUSDT"])
    tfs: list[str] = Field(examples=[["1m"]])


def _answer(answer: Answer) -> JSONResponse:
    return JSONResponse(answer.body, status_code=answer.status)


def _bad(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "ok": False,
            "error": f"{field}: {message}",
            "fields": [{"field": field, "message": message}],
        },
        status_code=status,
    )


async def _json_object(request: Request) -> dict[str, Any] | JSONResponse:
    raw = await request.body()
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        return _bad(400, "body", f"not valid JSON ({exc})")
    if not isinstance(data, dict):
        return _bad(400, "body", "must be a JSON object")
    return data


def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def create_app(worker: WorkerService, api_token: str | None) -> FastAPI:
    app = FastAPI(
        title="Zoneguard worker",
        version="1",
        description="Entry-zone orders with stop-loss / take-profit on BitMart USDT-M futures.",
    )

    async def authorised(request: Request) -> None:
        if api_token is None:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {api_token}".encode()):
            raise _Unauthorised()

    guard = [Depends(authorised)]

    @app.exception_handler(_Unauthorised)
    async def _unauthorised(_request: Request, _exc: _Unauthorised) -> JSONResponse:
        return _bad(401, "authorization", "missing or wrong bearer token")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": ("body",), "msg": "invalid"}
        field = ".".join(str(p) for p in first["loc"] if p not in ("body", "query", "path"))
        return _bad(422, field or "body", str(first["msg"]))

    @app.exception_handler(ExchangeError)
    async def _exchange_down(_request: Request, exc: ExchangeError) -> JSONResponse:
        return JSONResponse({"ok": False, "error": f"exchange: {exc}"}, status_code=503)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness and readiness (no token needed)."""
        return {"status": "ok" if worker.ready else "starting", "ready": worker.ready}

    @app.post("/api/place-order", dependencies=guard, openapi_extra=_body_doc(PlaceOrderBody))
    async def place_order(request: Request) -> Response:
        """Queue an order: placed post-only when the price enters the zone, then guarded."""
        body = await _json_object(request)
        if isinstance(body, JSONResponse):
            return body
        if not worker.ready:
            return JSONResponse({"ok": False, "error": "worker is starting"}, status_code=503)
        return _answer(await worker.place_order(body))

    @app.post(
        "/api/monitor-position", dependencies=guard, openapi_extra=_body_doc(MonitorPositionBody)
    )
    async def monitor_position(request: Request) -> Response:
        """Guard with SL/TP a position opened outside the worker."""
        body = await _json_object(request)
        if isinstance(body, JSONResponse):
            return body
        return _answer(await worker.monitor_position(body))

    @app.get("/api/orders/status", dependencies=guard)
    async def orders_status() -> dict[str, Any]:
        """Waiting orders, active ones and ``monitored_positions``."""
        return worker.orders_status()

    @app.get("/api/orders/{order_id}", dependencies=guard)
    async def order_detail(order_id: str) -> Response:
        """One order: its plan, facts and every transition."""
        detail = worker.order_detail(order_id)
        if detail is None:
            return _bad(404, "order_id", f"{order_id} is unknown")
        return JSONResponse(detail)

    @app.post("/api/orders/{order_id}/cancel", dependencies=guard)
    async def cancel(order_id: str) -> Response:
        """Cancel an order still waiting or placed (fills already made stay guarded)."""
        return _answer(await worker.cancel(order_id))

    @app.post("/api/orders/{order_id}/close", dependencies=guard)
    async def close(order_id: str) -> Response:
        """Close a guarded position now, at market."""
        return _answer(await worker.close(order_id))

    @app.get("/api/callbacks/refused", dependencies=guard)
    async def refused_callbacks() -> dict[str, Any]:
        """Callbacks set aside after the receiver refused them as invalid (4xx) repeatedly;
        the order's later callbacks went on without them."""
        return worker.refused_callbacks()

    @app.post("/api/callbacks/{event_id}/retry", dependencies=guard)
    async def retry_callback(event_id: str) -> Response:
        """Send a set-aside callback again."""
        return _answer(worker.retry_callback(event_id))

    @app.post("/klines/subscribe", dependencies=guard, openapi_extra=_body_doc(KlineSubscribeBody))
    async def klines_subscribe(request: Request) -> Response:
        """The seed's KlineWorker: subscribe klines of ``symbol`` for timeframes ``tfs``."""
        body = await _json_object(request)
        if isinstance(body, JSONResponse):
            return body
        symbol, tfs = body.get("symbol"), body.get("tfs", ["1m"])
        if not isinstance(symbol, str) or not symbol.strip():
            return _bad(422, "symbol", "required, e.g. BTCUSDT")
        if not isinstance(tfs, list) or not tfs or not all(isinstance(t, str) for t in tfs):
            return _bad(422, "tfs", 'must be a non-empty list such as ["1m"]')
        wrong = [tf for tf in tfs if tf.lower() not in KLINE_TIMEFRAMES]
        if wrong:
            return _bad(
                422, "tfs", f"unknown timeframe {wrong[0]!r}; use {', '.join(KLINE_TIMEFRAMES)}"
            )
        symbol = symbol.strip().upper()
        try:
            await worker.markets.spec(symbol)
        except ExchangeError as exc:
            return _bad(422, "symbol", f"{symbol} is not traded ({exc})")
        channels = await worker.markets.subscribe_klines(symbol, [tf.lower() for tf in tfs])
        await worker.markets.ensure_prices(symbol)
        return JSONResponse({"ok": True, "symbol": symbol, "tfs": channels})

    @app.get("/api/market/{symbol}/klines", dependencies=guard)
    async def market_klines(symbol: str, tf: str = "1m", limit: int = 120) -> Response:
        """Recent price bars of ``symbol`` (for charts), from the exchange."""
        if tf.lower() not in KLINE_TIMEFRAMES:
            return _bad(422, "tf", f"unknown timeframe {tf!r}; use {', '.join(KLINE_TIMEFRAMES)}")
        if not 1 <= limit <= 500:
            return _bad(422, "limit", "must be between 1 and 500")
        minutes = {"m": 1, "h": 60, "d": 1440, "w": 10080}
        step_s = int(tf[:-1]) * minutes[tf[-1].lower()] * 60
        end = int(time.time())
        try:
            bars = await worker.exchange.klines(
                symbol.upper(), tf.lower(), end - step_s * limit, end
            )
        except MarketUnavailable as exc:  # the caller's mistake: retrying will not help
            return _bad(404, "symbol", f"{symbol.upper()[:40]} is not traded ({exc})")
        return JSONResponse(
            {
                "symbol": symbol.upper(),
                "tf": tf.lower(),
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

    add_contract_route(app, worker, guard)

    @app.post("/positions/subscribe", dependencies=guard)
    async def positions_subscribe() -> dict[str, Any]:
        """The seed's PositionWorker: subscribe the private order/position streams."""
        await worker.markets.ensure_account()
        return {"ok": True, "position_subscribed": worker.markets.position_subscribed}

    @app.get("/status", dependencies=guard)
    async def status() -> dict[str, Any]:
        """Health, ``kline_channels``, ``position_subscribed``, connections, counts."""
        return worker.status()

    @app.get("/metrics", dependencies=guard)
    async def metrics() -> Response:
        worker.orders_status()
        worker.status()
        return Response(generate_latest(worker.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


class _Unauthorised(Exception):
    pass
