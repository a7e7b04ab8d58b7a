"""Reading state: orders (lifecycle with every transition), positions, the live feed;
operator actions on an order, passed on to the worker."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session

from zoneguard.app import store
from zoneguard.app.api.errors import bad, relayed
from zoneguard.app.api.schemas import (
    OrderDetail,
    OrderList,
    PositionList,
    WorkerAnswer,
    answers,
)
from zoneguard.app.cancel import cancel_unsent
from zoneguard.app.db.models import OrderLifecycle
from zoneguard.app.feed import sse_stream
from zoneguard.app.ids import now_ms, order_id_problem, printable_problem
from zoneguard.app.logs import orders_log
from zoneguard.app.rules import OrderStatus, PositionStatus
from zoneguard.app.runtime import AppRuntime
from zoneguard.app.views import (
    entry_progress,
    exit_progress,
    order_view,
    position_view,
    transition_view,
)
from zoneguard.app.worker_client import WorkerRejected, WorkerUnavailable

ORDER_STATUSES = ", ".join(s.value for s in OrderStatus)
POSITION_STATUSES = ", ".join(s.value for s in PositionStatus)
WORKER_ACTION = answers(
    {
        202: (WorkerAnswer, "the worker took the request; the outcome comes as a callback"),
        200: (WorkerAnswer, "the worker never had the order: cancelled in the app"),
    },
    400,
    404,
    409,
    422,
    503,
)
"""A 4xx of the worker is passed on with the fields it names."""


def router(runtime: AppRuntime) -> APIRouter:
    api = APIRouter(tags=["orders"])

    @api.get("/api/orders", responses=answers({200: (OrderList, "newest first")}, 422))
    async def list_orders(
        status: str | None = Query(None, description=f"one of {ORDER_STATUSES}"),
        symbol: str | None = Query(None, max_length=32),
        limit: int = Query(100, ge=1, le=1000),
    ) -> JSONResponse:
        """Orders, newest first."""
        if status is not None and status not in {s.value for s in OrderStatus}:
            return bad(422, "status", f"unknown status {status[:40]!r}; use {ORDER_STATUSES}")
        problem = None if symbol is None else printable_problem(symbol, 32)
        if problem is not None:
            return bad(422, "symbol", problem)
        wanted = symbol.upper() if symbol else None

        def read(session: Session) -> list[dict[str, Any]]:
            rows = store.list_orders(session, status=status, symbol=wanted, limit=limit)
            return [order_view(order) for order in rows]

        return JSONResponse({"orders": await runtime.db.run(read)})

    @api.get(
        "/api/orders/{order_id}",
        responses=answers({200: (OrderDetail, "the lifecycle")}, 404, 422),
    )
    async def order_detail(order_id: str) -> JSONResponse:
        """One lifecycle: status, every transition with its time, prices, exchange ids,
        reason, error, and its position."""
        problem = order_id_problem(order_id)
        if problem is not None:
            return bad(422, "order_id", problem)

        def read(session: Session) -> dict[str, Any] | None:
            order = store.get_order(session, order_id)
            if order is None:
                return None
            position = store.get_position(session, order_id)
            return {
                **order_view(order),
                "exit_progress": exit_progress(order),
                "entry_progress": entry_progress(order),
                "transitions": [transition_view(t) for t in order.transitions],
                "position": None if position is None else position_view(position),
            }

        detail = await runtime.db.run(read)
        if detail is None:
            return bad(404, "order_id", f"{order_id[:64]} is unknown")
        return JSONResponse(detail)

    @api.post("/api/orders/{order_id}/cancel", status_code=202, responses=WORKER_ACTION)
    async def cancel(order_id: str) -> JSONResponse:
        """Ask the worker to cancel the order (the outcome arrives as a callback)."""
        return await _worker_action(runtime, order_id, "cancel")

    @api.post("/api/orders/{order_id}/close", status_code=202, responses=WORKER_ACTION)
    async def close(order_id: str) -> JSONResponse:
        """Ask the worker to close the order's position at market now."""
        return await _worker_action(runtime, order_id, "close")

    @api.get("/api/positions", responses=answers({200: (PositionList, "most recent first")}, 422))
    async def list_positions(
        status: str | None = Query(None, description=f"one of {POSITION_STATUSES}"),
        limit: int = Query(100, ge=1, le=1000),
    ) -> JSONResponse:
        """Positions, most recently opened first."""
        if status is not None and status not in {s.value for s in PositionStatus}:
            return bad(422, "status", f"unknown status {status[:40]!r}; use {POSITION_STATUSES}")

        def read(session: Session) -> list[dict[str, Any]]:
            rows = store.list_positions(session, status=status, limit=limit)
            return [position_view(position) for position in rows]

        return JSONResponse({"positions": await runtime.db.run(read)})

    @api.get(
        "/api/events",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "never ends"}},
    )
    async def events() -> StreamingResponse:
        """Server-Sent Events: ``event: order`` / ``event: position`` with the row's new
        JSON each time one changes (``event: hello`` first, comments as keep-alive)."""
        return StreamingResponse(
            sse_stream(runtime.feed),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return api


async def _worker_action(runtime: AppRuntime, order_id: str, action: str) -> JSONResponse:
    problem = order_id_problem(order_id)
    if problem is not None:
        return bad(422, "order_id", problem)
    known = await runtime.db.run(lambda s: s.get(OrderLifecycle, order_id) is not None)
    if not known:
        return bad(404, "order_id", f"{order_id[:64]} is unknown")
    try:
        if action == "cancel":
            answer = await runtime.client.cancel(order_id)
        else:
            answer = await runtime.client.close_position(order_id)
    except WorkerRejected as exc:
        if action == "cancel" and exc.unknown_order:
            return await _cancel_unsent(runtime, order_id, exc)
        return relayed(exc.status, exc.message, exc.body, "order_id")
    except WorkerUnavailable as exc:
        return bad(503, "worker", f"unavailable: {exc}")
    return JSONResponse(answer, status_code=202)


async def _cancel_unsent(runtime: AppRuntime, order_id: str, exc: WorkerRejected) -> JSONResponse:
    """The worker does not know the order: cancel it here, so its message is never sent
    (``cancel.py``), and ask the worker again if it had accepted the order meanwhile."""
    at = now_ms()

    def write(session: Session) -> tuple[dict[str, Any], bool] | None:
        unsent = cancel_unsent(session, order_id, at_ms=at)
        return None if unsent is None else (order_view(unsent.order), unsent.ask_again)

    done = await runtime.db.run(write)
    if done is None:  # the worker reported on it before: its 404 is news to look into
        return relayed(exc.status, exc.message, exc.body, "order_id")
    view, ask_again = done
    runtime.changed()
    orders_log.info("cancelled in the app: the worker never had it", extra={"order_id": order_id})
    body: dict[str, Any] = {
        "ok": True,
        "order_id": order_id,
        "status": "cancelled",
        "cancelled_by": "app",
        "order": view,
    }
    if ask_again:
        try:
            body["worker"] = await runtime.client.cancel(order_id)
        except WorkerRejected as again:
            body["worker"] = {"status": again.status, "error": again.message}
        except WorkerUnavailable as down:
            return bad(
                503,
                "worker",
                f"cancelled in the app, but the worker, which had accepted the order, could "
                f"not be asked again ({down}): send the cancel again",
            )
        orders_log.warning(
            "asked the worker once more to cancel an order it had accepted: %s",
            body["worker"].get("status"),
            extra={"order_id": order_id},
        )
    return JSONResponse(body)
