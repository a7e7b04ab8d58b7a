"""``POST /api/orders/callback``: the seed's OrderCallbackController over HTTP.

Signature first (when ``ZONEGUARD_CALLBACK_SECRET`` is set: missing or bad is a 401;
when it is not, only a loopback peer may post, anyone else gets a 401), then the body
(400 not JSON, 422 naming the field), then one transaction that dedupes on ``event_id``
and applies the news. Answers ``{"status": "ok"}``, with ``"duplicate":
true`` for an event already applied.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from zoneguard.app.api.docs import CallbackBody, body_doc
from zoneguard.app.api.errors import field_errors, parse_json_object
from zoneguard.app.api.schemas import CallbackAnswer, answers
from zoneguard.app.callback_body import CallbackInvalid, IncomingCallback, parse_callback
from zoneguard.app.callbacks import DuplicateEvent, Outcome, apply_callback
from zoneguard.app.ids import now_ms
from zoneguard.app.logs import escaped, orders_log
from zoneguard.app.runtime import AppRuntime
from zoneguard.app.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_problem
from zoneguard.domain.errors import FieldError
from zoneguard.web.addresses import is_loopback

_ERROR_STATUSES = frozenset({"failed", "close_failed"})
_WARNING_STATUSES = frozenset({"timeout"})


def router(runtime: AppRuntime) -> APIRouter:
    api = APIRouter(tags=["callbacks"])
    settings = runtime.settings

    @api.post(
        "/api/orders/callback",
        openapi_extra=body_doc(CallbackBody),
        responses=answers(
            {200: (CallbackAnswer, "applied, or a duplicate (`duplicate: true`)")},
            400,
            401,
            413,
            422,
        ),
    )
    async def order_callback(request: Request) -> JSONResponse:
        """The worker reports an order's news (placed, filled, failed, timeout, cancelled,
        closed, close_failed; partially_closed and stop_moved, and a later entry zone's
        placed / filled with entry_index, are notes that move no status)."""
        peer = request.client.host if request.client else None
        secret = settings.secret()
        if secret is None and not is_loopback(peer):
            orders_log.warning("unsigned callback refused from %s", peer)
            return _refused(
                f"unsigned callbacks are taken only from loopback, not from {peer}; "
                "set ZONEGUARD_CALLBACK_SECRET on the app and the worker"
            )
        raw = await request.body()
        if secret is not None:
            problem = signature_problem(
                secret,
                request.headers.get(TIMESTAMP_HEADER),
                request.headers.get(SIGNATURE_HEADER),
                raw,
                max_age_s=settings.callback_max_age_s,
            )
            if problem is not None:
                orders_log.warning("callback refused: %s", problem)
                return _refused(problem)
        body = parse_json_object(raw)
        if isinstance(body, JSONResponse):
            return body
        try:
            incoming = parse_callback(body, raw)
        except CallbackInvalid as exc:
            orders_log.warning("callback refused: %s", escaped(str(exc)))
            return field_errors(422, exc.errors)
        at = now_ms()
        try:
            outcome = await runtime.db.run(lambda s: apply_callback(s, incoming, now_ms=at))
        except DuplicateEvent:
            outcome = Outcome.DUPLICATE
        if outcome is Outcome.DUPLICATE:
            orders_log.debug(
                "duplicate callback ignored",
                extra={"order_id": incoming.order_id, "event_id": incoming.event_id},
            )
            return JSONResponse({"status": "ok", "duplicate": True})
        runtime.changed()
        _log(incoming, outcome)
        return JSONResponse({"status": "ok"})

    return api


def _refused(problem: str) -> JSONResponse:
    return field_errors(401, [FieldError("signature", problem)])


def _log(incoming: IncomingCallback, outcome: Outcome) -> None:
    facts = incoming.facts
    extra = {
        "order_id": incoming.order_id,
        "event_id": incoming.event_id,
        "applied": outcome is Outcome.APPLIED,
    }
    detail = facts.error or facts.reason or ""
    message = f"callback {incoming.status}" + (f": {escaped(detail)}" if detail else "")
    if incoming.status in _ERROR_STATUSES:
        orders_log.error(message, extra=extra)
    elif incoming.status in _WARNING_STATUSES:
        orders_log.warning(message, extra=extra)
    else:
        orders_log.info(message, extra=extra)
