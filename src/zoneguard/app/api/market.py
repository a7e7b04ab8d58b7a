"""``GET /api/market/{symbol}/klines``: price bars for the dashboard's chart, from the
worker (the app has no exchange connection of its own)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from zoneguard.app.api.errors import bad, relayed
from zoneguard.app.api.schemas import Klines, answers
from zoneguard.app.runtime import AppRuntime
from zoneguard.app.worker_client import WorkerRejected, WorkerUnavailable
from zoneguard.domain.plan_schema import SYMBOL_PATTERN

Timeframe = Literal["1m", "5m", "15m", "30m", "1h", "2h", "4h", "1d", "1w"]


def router(runtime: AppRuntime) -> APIRouter:
    api = APIRouter(tags=["market"])

    @api.get(
        "/api/market/{symbol}/klines",
        responses=answers({200: (Klines, "oldest bar first")}, 404, 422, 503),
    )
    async def klines(
        symbol: str = Path(pattern=SYMBOL_PATTERN, examples=["BTCUSDT"]),
        tf: Timeframe = Query("1m"),
        limit: int = Query(120, ge=1, le=500),
    ) -> JSONResponse:
        """``{"symbol", "tf", "bars": [{"t", "o", "h", "l", "c", "v"}]}``; ``t`` is the bar's
        open time in epoch seconds, prices and volume decimal strings. An unknown symbol is
        the worker's 404 naming ``symbol``, passed on."""
        try:
            answer = await runtime.client.klines(symbol.upper(), tf, limit)
        except WorkerRejected as exc:  # a 4xx: final, not retried (unknown symbol: 404)
            return relayed(exc.status, exc.message, exc.body, "symbol")
        except WorkerUnavailable as exc:
            return bad(503, "worker", f"unavailable: {exc}")
        return JSONResponse(answer)

    return api
