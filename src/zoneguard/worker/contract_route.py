"""``GET /api/market/{symbol}/contract``: a contract's facts (size, lot, tick, volume and
leverage limits), so the app can refuse an unknown symbol or a size below one contract when
the signal arrives instead of storing an order that fails here later."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI, Path, params
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from zoneguard.domain.contract_facts import contract_facts
from zoneguard.domain.plan_schema import SYMBOL_PATTERN
from zoneguard.exchange.errors import ExchangeError, MarketUnavailable
from zoneguard.worker import api_docs as docs
from zoneguard.worker.service import WorkerService, field_errors


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


def add_contract_route(
    app: FastAPI,
    worker: WorkerService,
    dependencies: Sequence[params.Depends],
    *,
    needs_token: bool,
) -> None:
    @app.get(
        "/api/market/{symbol}/contract",
        dependencies=list(dependencies),
        response_model=None,
        responses=docs.answers(
            {200: (ContractFactsBody, "the contract's facts")},
            {404: docs.error("the exchange trades no such symbol")},
            docs.INVALID,
            docs.UNAVAILABLE,
            auth=needs_token,
        ),
    )
    async def market_contract(
        symbol: str = Path(pattern=SYMBOL_PATTERN, examples=["BTCUSDT"]),
    ) -> Response:
        """A contract's facts: contract size, lot and tick, volume and leverage limits."""
        symbol = symbol.upper()
        try:
            spec = await worker.markets.spec(symbol)
        except MarketUnavailable:
            return _refused(404, "symbol", f"{symbol} is not traded")
        except ExchangeError as exc:
            return JSONResponse({"ok": False, "error": f"exchange unavailable: {exc}"}, 503)
        return JSONResponse(contract_facts(spec))


def _refused(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse(field_errors([(field, message)], status).body, status_code=status)
