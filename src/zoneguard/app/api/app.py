"""The FastAPI application: every router, the error shape, health, the dashboard page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from zoneguard.app.api import callbacks, market, messages, orders, signals
from zoneguard.app.api.auth import UNAUTHORISED_DOC, Unauthorised, bearer_guard, on_unauthorised
from zoneguard.app.api.errors import (
    body_too_large,
    field_errors,
    on_request_validation,
)
from zoneguard.app.api.query import UnknownQuery, known_query_only, on_unknown_query
from zoneguard.app.api.schemas import Health, answers
from zoneguard.app.bus import table
from zoneguard.app.runtime import AppRuntime
from zoneguard.domain.errors import FieldError
from zoneguard.web.body_limit import BodyLimit

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
INDEX_FILE = STATIC_DIR / "index.html"

PLACEHOLDER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Zoneguard</title></head>
<body><h1>Zoneguard</h1>
<p>The dashboard is not installed. The API is at <a href="/docs">/docs</a>;
orders at <a href="/api/orders">/api/orders</a>.</p></body></html>
"""


_ROUTING_FIELDS = {404: "path", 405: "method"}


def create_app(runtime: AppRuntime) -> FastAPI:
    app = FastAPI(
        title="Zoneguard app",
        version="1",
        description=(
            "The Trading-App: signals in, PlaceOrderMessage / MonitorPositionMessage to the "
            "worker over a durable bus, callbacks back, OrderLifecycle and Position."
        ),
    )
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.max_body_bytes, render=body_too_large)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """The router's own refusals (no such path, a method the path does not take) in
        our shape, naming what was wrong, with their headers (a 405's ``Allow``)."""
        field = _ROUTING_FIELDS.get(exc.status_code, "request")
        detail = str(exc.detail)
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            detail = f"{request.method[:20]} is not allowed here; use {allowed}"
        elif exc.status_code == 404:
            detail = f"no route {request.url.path[:100]}"
        return field_errors(exc.status_code, [FieldError(field, detail)], headers=exc.headers)

    app.add_exception_handler(Unauthorised, on_unauthorised)
    app.add_exception_handler(UnknownQuery, on_unknown_query)
    # Callbacks first: /api/orders/callback also matches /api/orders/{order_id}, and the
    # first route whose path matches gives a 405 its Allow.
    app.include_router(callbacks.router(runtime))  # its own door: a signature or a loopback peer
    guard = [*bearer_guard(runtime.settings.token()), Depends(known_query_only)]
    for module in (signals, orders, messages, market):
        app.include_router(
            module.router(runtime),
            dependencies=guard,
            responses=UNAUTHORISED_DOC if runtime.settings.token() else None,
        )

    @app.get("/health", tags=["health"], responses=answers({200: (Health, "ready")}, 503))
    async def health() -> JSONResponse:
        """Liveness and readiness: the database answers; bus counts."""

        def counts(session: Session) -> dict[str, int]:
            return {
                "pending_messages": table.pending_count(session),
                "failed_messages": len(table.list_failed(session, limit=1000)),
            }

        try:
            numbers = await runtime.db.run(counts)
        except Exception as exc:
            return field_errors(503, [FieldError("database", type(exc).__name__)])
        body: dict[str, Any] = {
            "status": "ok",
            "database": runtime.db.dialect,
            "transport": runtime.transport_name,
            "consumer": runtime.consumer is not None,
            "instance": runtime.instance_id,
            **numbers,
        }
        return JSONResponse(body)

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        if INDEX_FILE.is_file():
            return FileResponse(INDEX_FILE, media_type="text/html")
        return HTMLResponse(PLACEHOLDER_PAGE)

    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
