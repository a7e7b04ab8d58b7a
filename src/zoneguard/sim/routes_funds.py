"""Routes that move money without a trade: spot <-> futures transfers and their list, the
demo ``claim``, and the futures ledger ``transaction-history`` (PROTOCOL §6.7).

The two ``/account/v1/transfer-contract*`` routes honour ``recvWindow`` (ms, (0, 60000],
default 5000): the request's timestamp must lie that close to the server clock.
"""

from __future__ import annotations

from zoneguard.sim import errors as e
from zoneguard.sim import params as p
from zoneguard.sim.decimals import fmt, fmt_money
from zoneguard.sim.engine import Engine
from zoneguard.sim.errors import SimError
from zoneguard.sim.funds import FLOW_NAMES, Transaction, Transfer
from zoneguard.sim.params import Params
from zoneguard.sim.routing import Route, every_2s

HISTORY_DEFAULT_MS = 7 * 86_400_000
PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 1000


def transfer_contract(engine: Engine, params: Params) -> object:
    transfer = engine.transfer(
        p.required_text(params, "currency"),
        p.required_decimal(params, "amount"),
        p.required_text(params, "type"),
    )
    return {"currency": transfer.currency, "amount": fmt(transfer.amount)}


def transfer_contract_list(engine: Engine, params: Params) -> object:
    page = p.required_integer(params, "page")
    limit = p.required_integer(params, "limit")
    if not 1 <= page <= 1000:
        raise SimError(e.INVALID_REQUEST, "page must be between 1 and 1000")
    if not 10 <= limit <= 100:
        raise SimError(e.INVALID_REQUEST, "limit must be between 10 and 100")
    currency = p.text(params, "currency")
    start = p.integer(params, "time_start", 0) or 0
    end = p.integer(params, "time_end")
    rows = [
        transfer
        for transfer in reversed(engine.funds.transfers)
        if (not currency or transfer.currency == currency)
        and transfer.timestamp >= start
        and (end is None or transfer.timestamp <= end)
    ]
    first = (page - 1) * limit
    return {"records": [_transfer_row(transfer) for transfer in rows[first : first + limit]]}


def _transfer_row(transfer: Transfer) -> dict[str, object]:
    return {
        "transfer_id": str(transfer.transfer_id),
        "currency": transfer.currency,
        "amount": fmt(transfer.amount),
        "type": transfer.type,
        "state": "FINISHED",
        "timestamp": transfer.timestamp,
    }


def claim(engine: Engine, params: Params) -> object:
    return {"currency": "USDT", "amount": fmt(engine.claim())}


def transaction_history(engine: Engine, params: Params) -> object:
    """Newest first; ``start_time``/``end_time`` in ms (default: the last 7 days)."""
    symbol = p.text(params, "symbol")
    if symbol:
        engine.book(symbol)
    flow_type = p.integer(params, "flow_type", 0) or 0
    if flow_type != 0 and flow_type not in FLOW_NAMES:
        raise SimError(e.INVALID_REQUEST, f"Invalid flow_type {flow_type}")
    end = p.integer(params, "end_time") or engine.now_ms()
    start = p.integer(params, "start_time")
    start = end - HISTORY_DEFAULT_MS if start is None else start
    size = p.integer(params, "page_size", PAGE_SIZE_DEFAULT) or PAGE_SIZE_DEFAULT
    if not 1 <= size <= PAGE_SIZE_MAX:
        raise SimError(e.INVALID_REQUEST, f"page_size must be between 1 and {PAGE_SIZE_MAX}")
    rows = [
        row
        for row in reversed(engine.funds.ledger)
        if (not symbol or row.symbol == symbol)
        and (flow_type == 0 or row.flow_type == flow_type)
        and start <= row.time <= end
    ]
    return [_transaction_row(row) for row in rows[:size]]


def _transaction_row(row: Transaction) -> dict[str, object]:
    return {
        "symbol": row.symbol,
        "flow_type": row.flow_type,
        "type": FLOW_NAMES[row.flow_type],
        "amount": fmt_money(row.amount),
        "asset": "USDT",
        "account": "futures",
        "time": row.time,
        "tran_id": str(row.tran_id),
    }


ROUTES: dict[str, Route] = {
    "/account/v1/transfer-contract": Route(
        "POST", "signed", every_2s(1, "KEY"), transfer_contract, recv_window=True
    ),
    "/account/v1/transfer-contract-list": Route(
        "POST", "signed", every_2s(1, "KEY"), transfer_contract_list, recv_window=True
    ),
    "/contract/private/claim": Route("POST", "signed", every_2s(2, "KEY"), claim),
    "/contract/private/transaction-history": Route(
        "GET", "keyed", every_2s(6, "KEY"), transaction_history
    ),
}
