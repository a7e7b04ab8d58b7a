"""``GET /api/market/{symbol}/contract``: a contract's facts (size, lot, tick, volume and
leverage limits), so the app can refuse an unknown symbol or a size below one contract when
the signal arrives instead of storing an order that fails here later."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, params
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from zoneguard.domain.contract_facts import contract_facts
from zoneguard.exchange.errors import ExchangeError, MarketUnavailable
from zoneguard.worker.service import WorkerService

SYMBOL = re.compile(r"[A-Za-z0-9]{2,30}")


class ContractFactsBody(BaseModel):
    """Decimals as strings; sizes in contracts and in base currency."""

    symbol: str = Field(examples=["BTCUSDT"])
    base_currency: str = Field(examples=["BTC"])
    quote_currency: str = Field(examples=["USDT"])
    contract_size: str = Field(examples=["0.001"], description="base currency per contract")
    lot_size: str = Field(examples=["1"], description="order sizes are multiples of it")
    tick_size: str = Field(examples=["0.1"], description="prices are multiples of it")
    min_contracts: str = Field(examples=["1"])
    max_contracts: str = Field(examples=["500000"], description="per limit order")
    market_max_contracts: str = Field(examples=["100000"], description="per market order")
    min_quantity: str = Field(examples=["0.001"], description="smallest signal quantity")
    max_quantity: str = Field(examples=["500"], description="largest signal quantity")
    min_leverage: str = Field(examples=["1"])
    max_leverage: str = Field(examples=["100"])


class ErrorBody(BaseModel):
    ok: bool = Field(examples=[False])
    error: str = Field(examples=["symbol: XYZUSDT is not traded"])
    fields: list[dict[str, str]] | None = None


def _error(status: int, field: str | None, message: str) -> JSONResponse:
    if field is None:
        return JSONResponse({"ok": False, "error": message}, status_code=status)
    body = {
        "ok": False,
        "error": f"{field}: {message}",
        "fields": [{"field": field, "message": message}],
    }
    return JSONResponse(body, status_code=status)


def add_contract_route(
    app: FastAPI, worker: WorkerService, dependencies: Sequence[params.Depends]
) -> None:
    responses: dict[int | str, dict[str, Any]] = {
        200: {"model": ContractFactsBody, "description": "the contract's facts"},
        401: {"model": ErrorBody, "description": "missing or wrong bearer token"},
        404: {"model": ErrorBody, "description": "the exchange trades no such symbol"},
        422: {"model": ErrorBody, "description": "not a symbol (2..30 letters or digits)"},
        503: {"model": ErrorBody, "description": "the exchange cannot be asked now"},
    }

    @app.get(
        "/api/market/{symbol}/contract",
        dependencies=list(dependencies),
        responses=responses,
        response_model=None,
    )
    async def market_contract(symbol: str) -> Response:
        """A contract's facts: contract size, lot and tick, volume and leverage limits."""
        if not SYMBOL.fullmatch(symbol):
            return _error(422, "symbol", "must be 2..30 letters or digits, e.g. BTCUSDT")
        symbol = symbol.upper()
        try:
            spec = await worker.markets.spec(symbol)
        except MarketUnavailable:
            return _error(404, "symbol", f"{symbol} is not traded")
        except ExchangeError as exc:
            return _error(503, None, f"exchange unavailable: {exc}")
        return JSONResponse(contract_facts(spec))
