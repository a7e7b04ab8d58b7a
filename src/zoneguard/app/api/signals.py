"""``POST /api/signals`` and ``POST /api/positions/monitor``: the order's row and its bus
message are written in one transaction (the outbox), so neither exists without the other."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zoneguard.app import store
from zoneguard.app.api.docs import SignalBody, body_doc
from zoneguard.app.api.errors import bad, field_errors, json_object, validation_errors
from zoneguard.app.api.schemas import OrderAccepted, answers
from zoneguard.app.bus import table
from zoneguard.app.contract_checks import plan_problems, symbol_problems
from zoneguard.app.ids import new_order_id, now_ms
from zoneguard.app.logs import orders_log
from zoneguard.app.messages import MonitorPositionMessage, PlaceOrderMessage
from zoneguard.app.numbers import bounded_price
from zoneguard.app.runtime import AppRuntime
from zoneguard.app.views import order_view
from zoneguard.domain.errors import FieldError, PlanValidationError
from zoneguard.domain.plan import (
    MAX_TIMEOUT_SECONDS,
    OrderPlan,
    PlanDefaults,
    checked_metadata,
    parse_plan,
)
from zoneguard.domain.plan_schema import SYMBOL_PATTERN

IDEMPOTENCY_HEADER = "Idempotency-Key"
SET_BY_THE_APP = ("id", "callback_url")


class IdempotencyConflict(Exception):
    pass


Price = Annotated[Decimal, AfterValidator(bounded_price)]
"""A signal's bounds (< 1e15, at most 18 decimal places): PostgreSQL would refuse or round
anything else, and SQLite would store it as megabytes of text."""


class MonitorBody(BaseModel):
    """Guard an open position with SL/TP (the worker reads size and entry from the exchange)."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(pattern=SYMBOL_PATTERN, examples=["BTCUSDT"])
    side: Literal["long", "short"]
    stop_loss: Price | None = Field(default=None, gt=0, allow_inf_nan=False, examples=[64000])
    take_profit: Price | None = Field(default=None, gt=0, allow_inf_nan=False, examples=[68000])
    timeout_seconds: int | None = Field(default=None, ge=1, le=MAX_TIMEOUT_SECONDS)
    metadata: dict[str, Any] | None = None

    @field_validator("side", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("metadata", mode="before")
    @classmethod
    def _bounded(cls, value: object) -> object:
        """A signal's bounds (depth and size), checked before anything walks the value: the
        bus and the worker would choke on more, leaving the order queued for good."""
        if value is None:
            return None
        copy, problem = checked_metadata(value)
        if copy is None:
            raise ValueError(problem)
        return copy

    @model_validator(mode="after")
    def _some_exit(self) -> MonitorBody:
        if self.stop_loss is None and self.take_profit is None:
            raise ValueError("give stop_loss, take_profit or both")
        return self


def router(runtime: AppRuntime) -> APIRouter:
    api = APIRouter(tags=["signals"])

    @api.post(
        "/api/signals",
        status_code=201,
        openapi_extra=body_doc(SignalBody),
        responses=answers(
            {
                201: (OrderAccepted, "stored and queued for the worker"),
                200: (OrderAccepted, "same Idempotency-Key and body: the existing order"),
            },
            400,
            409,
            413,
            422,
        ),
    )
    async def post_signal(request: Request) -> JSONResponse:
        """A trading signal: stores an OrderLifecycle (``queued``) and, in the same
        transaction, a PlaceOrderMessage for the worker. Answers the new order's ``id``.
        Send an ``Idempotency-Key`` header to make a retried POST safe."""
        body = await json_object(request)
        if isinstance(body, JSONResponse):
            return body
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is not None and not (0 < len(key) <= 128 and key.isprintable()):
            return bad(422, IDEMPOTENCY_HEADER, "must be 1..128 printable characters")
        refused = [FieldError(name, "is set by the app") for name in SET_BY_THE_APP if name in body]
        try:
            plan = parse_plan({**body, "id": new_order_id()}, PlanDefaults())
        except PlanValidationError as exc:
            return field_errors(422, [*refused, *exc.errors])
        if refused:
            return field_errors(422, refused)
        problems = await plan_problems(runtime.contracts, plan)
        if problems:
            return field_errors(422, problems)
        try:
            view, created = await _store_signal(runtime, plan, key)
        except IdempotencyConflict:
            return bad(409, IDEMPOTENCY_HEADER, "already used for a different signal")
        if not created:
            return JSONResponse({"id": view["id"], "status": view["status"], "order": view})
        runtime.enqueued()
        runtime.changed()
        zones = view["entry_zones"] or [
            {"min": view["entry_zone_min"], "max": view["entry_zone_max"]}
        ]
        orders_log.info(
            "signal received: %s %s zone %s qty %s",
            plan.symbol,
            plan.side.value,
            " ".join(
                f"{z['min']}..{z['max']}"
                + (f" ({z['size_percent']}%)" if "size_percent" in z else "")
                for z in zones
            ),
            view["quantity"],
            extra={"order_id": plan.id},
        )
        return JSONResponse(
            {"id": plan.id, "status": view["status"], "order": view}, status_code=201
        )

    @api.post(
        "/api/positions/monitor",
        status_code=201,
        openapi_extra=body_doc(MonitorBody),
        responses=answers(
            {201: (OrderAccepted, "stored and queued for the worker")}, 400, 413, 422
        ),
    )
    async def monitor_position(request: Request) -> JSONResponse:
        """Have the worker guard with SL/TP a position opened elsewhere: stores an
        OrderLifecycle and enqueues a MonitorPositionMessage."""
        body = await json_object(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            wanted = MonitorBody.model_validate(body)
        except ValidationError as exc:
            return field_errors(422, validation_errors(exc.errors()))
        problems = await symbol_problems(runtime.contracts, wanted.symbol.upper())
        if problems:
            return field_errors(422, problems)
        order_id, at = new_order_id(), now_ms()
        message = MonitorPositionMessage(
            order_id=order_id,
            symbol=wanted.symbol.upper(),
            side=wanted.side,
            stop_loss=wanted.stop_loss,
            take_profit=wanted.take_profit,
            timeout_seconds=wanted.timeout_seconds,
            metadata=wanted.metadata or {},
        )

        def write(session: Session) -> dict[str, Any]:
            order = store.create_order(
                session,
                order_id,
                origin="monitor",
                at_ms=at,
                symbol=message.symbol,
                side=message.side,
                stop_loss=message.stop_loss,
                take_profit=message.take_profit,
                timeout_seconds=message.timeout_seconds,
                metadata=message.metadata,
            )
            table.enqueue(session, message, now_ms=at)
            session.flush()
            return order_view(order)

        view = await runtime.db.run(write)
        runtime.enqueued()
        runtime.changed()
        orders_log.info(
            "monitor request: %s %s", message.symbol, message.side, extra={"order_id": order_id}
        )
        return JSONResponse(
            {"id": order_id, "status": view["status"], "order": view}, status_code=201
        )

    return api


async def _store_signal(
    runtime: AppRuntime, plan: OrderPlan, key: str | None
) -> tuple[dict[str, Any], bool]:
    at = now_ms()

    def write(session: Session) -> tuple[dict[str, Any], bool]:
        if key is not None:
            existing = store.find_by_idempotency_key(session, key)
            if existing is not None:
                if not store.same_plan(existing, plan):
                    raise IdempotencyConflict(key)
                return order_view(existing), False
        order = store.create_order(
            session, plan.id, origin="signal", at_ms=at, plan=plan, idempotency_key=key
        )
        table.enqueue(session, PlaceOrderMessage.from_plan(plan), now_ms=at)
        session.flush()
        return order_view(order), True

    try:
        return await runtime.db.run(write)
    except IntegrityError:
        if key is None:
            raise
        return await runtime.db.run(write)  # a concurrent twin with the same key won
