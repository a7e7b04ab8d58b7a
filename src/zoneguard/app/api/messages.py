"""The failure queue: messages that failed every attempt, listed and retried by hand."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from zoneguard.app.api.errors import bad
from zoneguard.app.api.schemas import FailedMessageList, RetryAccepted, answers
from zoneguard.app.bus import table
from zoneguard.app.ids import MAX_ROW_ID, now_ms
from zoneguard.app.logs import orders_log
from zoneguard.app.runtime import AppRuntime
from zoneguard.app.views import failed_message_view


def router(runtime: AppRuntime) -> APIRouter:
    api = APIRouter(tags=["bus"])

    @api.get(
        "/api/messages/failed",
        responses=answers({200: (FailedMessageList, "newest failure first")}, 422),
    )
    async def list_failed(limit: int = Query(100, ge=1, le=1000)) -> JSONResponse:
        """Messages in the failure queue, newest failure first."""

        def read(session: Session) -> list[dict[str, Any]]:
            return [failed_message_view(m) for m in table.list_failed(session, limit=limit)]

        return JSONResponse({"messages": await runtime.db.run(read)})

    @api.post(
        "/api/messages/failed/{failed_id}/retry",
        status_code=202,
        responses=answers({202: (RetryAccepted, "back on the bus")}, 404, 422),
    )
    async def retry_failed(failed_id: int = Path(ge=1, le=MAX_ROW_ID)) -> JSONResponse:
        """Put a failed message back on the bus with a fresh set of attempts."""
        at = now_ms()
        row = await runtime.db.run(lambda s: table.retry_failed(s, failed_id, now_ms=at))
        if row is None:
            return bad(404, "failed_id", f"no failed message {failed_id}")
        runtime.enqueued()
        orders_log.info(
            "failed %s put back on the bus",
            row.message_type,
            extra={"message_uuid": row.message_uuid, "order_id": row.body.get("order_id")},
        )
        return JSONResponse(
            {"ok": True, "message_id": row.id, "message_uuid": row.message_uuid}, status_code=202
        )

    return api
