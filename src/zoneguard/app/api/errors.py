"""One error shape for every endpoint: ``{"ok": false, "status": "error", "error":
"<field>: <message>; ...", "fields": [{"field", "message"}]}`` (the worker's shape, plus the
seed's ``status`` key), with a 4xx that says what was wrong, never a 500."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from zoneguard.domain.errors import FieldError


def error_shape(errors: Iterable[FieldError]) -> dict[str, Any]:
    listed = list(errors)
    return {
        "ok": False,
        "status": "error",
        "error": "; ".join(str(e) for e in listed),
        "fields": [{"field": e.field, "message": e.message} for e in listed],
    }


def field_errors(
    status: int, errors: Iterable[FieldError], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_shape(errors), status_code=status, headers=headers)


def body_too_large(message: str) -> bytes:
    """The 413 of :class:`~zoneguard.web.body_limit.BodyLimit`, in this shape."""
    return orjson.dumps(error_shape([FieldError("body", message)]))


def bad(status: int, field: str, message: str) -> JSONResponse:
    return field_errors(status, [FieldError(field, message)])


def relayed(status: int, message: str, body: Mapping[str, Any], field: str) -> JSONResponse:
    """A worker's refusal passed on with its status: the fields it named, else ``field``."""
    named = body.get("fields")
    found = [
        FieldError(str(item["field"]), str(item.get("message", "")))
        for item in (named if isinstance(named, list) else [])
        if isinstance(item, Mapping) and isinstance(item.get("field"), str) and item["field"]
    ]
    return field_errors(status, found or [FieldError(field, message)])


def plain_error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"ok": False, "status": "error", "error": message, **extra}, status_code=status
    )


async def json_object(request: Request) -> dict[str, Any] | JSONResponse:
    """The body as a JSON object, or the 400 that says why not."""
    return parse_json_object(await request.body())


def parse_json_object(raw: bytes) -> dict[str, Any] | JSONResponse:
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        return bad(400, "body", f"not valid JSON ({exc})")
    if not isinstance(data, dict):
        return bad(400, "body", "must be a JSON object")
    return data


def validation_errors(errors: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    """Pydantic's / FastAPI's errors as field errors (``loc`` without body/query/path)."""
    found = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header")]
        message = str(error.get("msg", "invalid"))
        found.append(FieldError(".".join(loc) or "body", message))
    return found or [FieldError("body", "invalid")]


async def on_request_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return field_errors(422, validation_errors(exc.errors()))
