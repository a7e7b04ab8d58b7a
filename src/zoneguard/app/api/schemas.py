"""What the app answers, for its OpenAPI document: every route's statuses with their bodies
(the fuzz test holds the running app to them). Documentation only: the handlers build
their JSON in ``views.py`` and ``errors.py``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every 4xx (and the 503s): ``error`` is ``"<field>: <message>; ..."``."""

    ok: Literal[False]
    status: Literal["error"]
    error: str
    fields: list[FieldProblem]


class OrderView(BaseModel):
    """An OrderLifecycle. Prices and sizes are exact decimal strings."""

    model_config = ConfigDict(extra="allow")

    id: str
    status: str
    origin: str
    symbol: str | None
    side: str | None
    entry_zone_min: str | None
    entry_zone_max: str | None
    entry_zones: list[dict[str, Any]] | None
    quantity: str | None
    leverage: int | None
    stop_loss: str | None
    take_profit: str | None
    timeout_seconds: int | None
    metadata: dict[str, Any] | None
    take_profits: list[dict[str, Any]] | None
    break_even: dict[str, Any] | None
    trailing_stop: dict[str, Any] | None
    exchange_order_id: str | None
    client_order_id: str | None
    close_order_id: str | None
    entry_price: str | None
    close_price: str | None
    filled_contracts: str | None
    reason: str | None
    error: str | None
    error_code: int | None
    created_at: str | None
    updated_at: str | None
    created_ms: int
    updated_ms: int
    version: int


class TransitionView(BaseModel):
    model_config = ConfigDict(extra="allow")

    seq: int
    event: str
    source: str | None
    from_status: str | None
    to_status: str | None
    applied: bool
    at: str | None
    at_ms: int
    event_time: str | None
    event_id: str | None
    reason: str | None
    error: str | None
    data: dict[str, Any] | None


class PositionView(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    order_id: str
    symbol: str | None
    side: str | None
    status: str
    quantity: str | None
    filled_contracts: str | None
    entry_price: str | None
    exit_price: str | None
    realized_pnl: str | None
    fees: str | None
    close_reason: str | None
    close_order_id: str | None
    error: str | None
    opened_at: str | None
    closed_at: str | None
    updated_at: str | None
    opened_ms: int | None
    closed_ms: int | None
    updated_ms: int | None
    version: int


class ExitProgress(BaseModel):
    """Each take-profit rung (``state`` waiting or closed, with what it closed) and the
    stop as it stands (moved by break-even or a trailing stop)."""

    model_config = ConfigDict(extra="allow")

    take_profits: list[dict[str, Any]]
    stop_loss: str | None
    stop_reason: str


class EntryProgress(BaseModel):
    """Each entry zone (``state`` waiting, placed, filled, or dropped once the order has
    ended; with its own entry's facts) and the position's totals so far: ``filled_contracts``
    and the size-weighted average ``entry_price``."""

    model_config = ConfigDict(extra="allow")

    zones: list[dict[str, Any]]
    filled_contracts: str | None
    entry_price: str | None


class OrderDetail(OrderView):
    exit_progress: ExitProgress | None
    entry_progress: EntryProgress | None
    transitions: list[TransitionView]
    position: PositionView | None


class OrderAccepted(BaseModel):
    id: str
    status: str
    order: OrderView


class OrderList(BaseModel):
    orders: list[OrderView]


class PositionList(BaseModel):
    positions: list[PositionView]


class FailedMessageView(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    message_uuid: str
    type: str
    body: dict[str, Any]
    attempts: int
    last_error: str | None
    created_at: str | None
    failed_at: str | None


class FailedMessageList(BaseModel):
    messages: list[FailedMessageView]


class RetryAccepted(BaseModel):
    ok: Literal[True]
    message_id: int
    message_uuid: str


class WorkerAnswer(BaseModel):
    """The worker's answer, passed on (``cancelled_by: "app"`` when the worker never had
    the order and the app cancelled it itself)."""

    model_config = ConfigDict(extra="allow")


class Bar(BaseModel):
    t: int
    o: str
    h: str
    l: str  # noqa: E741 - the bar's own key
    c: str
    v: str


class Klines(BaseModel):
    symbol: str
    tf: str
    bars: list[Bar]


class CallbackAnswer(BaseModel):
    status: Literal["ok"]
    duplicate: bool | None = None


class Health(BaseModel):
    status: Literal["ok"]
    database: str
    transport: str
    consumer: bool
    pending_messages: int
    failed_messages: int


_WHY = {
    400: "the body is not a JSON object (names `body`)",
    401: "missing or wrong credentials",
    404: "unknown (names the field)",
    409: "conflicts with the current state (names the field)",
    413: "the body is over ZONEGUARD_APP_MAX_BODY_BYTES (names `body`; refused before reading)",
    422: "a bad field (named)",
    503: "the worker or the database cannot answer now; try again later",
}


def answers(ok: dict[int, tuple[type[BaseModel], str]], *errors: int) -> dict[int | str, Any]:
    """A route's ``responses=``: its successes with their models, then its refusals."""
    documented: dict[int | str, Any] = {
        code: {"model": model, "description": text} for code, (model, text) in ok.items()
    }
    for code in errors:
        documented[code] = {"model": ErrorBody, "description": _WHY[code]}
    return documented
