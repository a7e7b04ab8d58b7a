"""Does the callback address the app hands the worker reach this app?

Every PlaceOrderMessage tells the worker to call back ``${APP_BASE_URL}/api/orders/callback``.
An app started on another port without APP_BASE_URL hands out the default address, where
nothing (or some other process) listens: callbacks pile up in the worker's outbox and no
order ever moves past ``submitted``. So once the server listens, the app asks its own
``/health`` at that address, and compares the instance id it made at start; a wrong address
is a WARNING naming APP_BASE_URL. Once, in the background, with a short timeout: start-up
never waits for it.
"""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import orjson
import uvicorn

from zoneguard.app.logs import escaped, orders_log
from zoneguard.app.settings import AppSettings

PROBE_TIMEOUT_S = 3.0


def new_instance_id() -> str:
    """Made once per process at start; ``GET /health`` shows it."""
    return uuid.uuid4().hex


async def callback_address_problem(
    settings: AppSettings, instance_id: str | None, *, timeout_s: float = PROBE_TIMEOUT_S
) -> str | None:
    """Why ``APP_BASE_URL`` does not reach this app, or None when it does. With
    ``instance_id`` None (a consumer without HTTP of its own) any Zoneguard app will do."""
    health = settings.app_base_url + "/health"
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(health, allow_redirects=False) as reply,
        ):
            raw = await reply.read()
            status = reply.status
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        reason = "no answer in time" if isinstance(exc, TimeoutError) else str(exc)
        reason = reason or type(exc).__name__
        return f"nothing answers at {health} ({reason})"
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    answered = body.get("instance") if isinstance(body, dict) else None
    if status != 200 or not isinstance(answered, str):
        return f"{health} answers HTTP {status}, not as a Zoneguard app"
    if instance_id is not None and answered != instance_id:
        return f"{health} is another Zoneguard app, not this one"
    return None


async def check_callback_address(settings: AppSettings, instance_id: str | None) -> None:
    """Log what :func:`callback_address_problem` finds: a WARNING naming APP_BASE_URL, or
    one INFO line saying where callbacks will arrive."""
    problem = await callback_address_problem(settings, instance_id)
    if problem is None:
        orders_log.info(
            "callbacks come to %s (APP_BASE_URL reaches this app)", settings.callback_url
        )
        return
    orders_log.warning(
        "APP_BASE_URL is %s, but %s: the worker will send callbacks to %s and they will "
        "pile up unseen; set APP_BASE_URL to the address the worker reaches this app at",
        settings.app_base_url,
        escaped(problem),
        settings.callback_url,
    )


async def check_once_listening(
    server: uvicorn.Server, settings: AppSettings, instance_id: str
) -> None:
    """:func:`check_callback_address` as soon as ``server`` listens (never if it stops first)."""
    while not server.started:
        if server.should_exit:
            return
        await asyncio.sleep(0.05)
    await check_callback_address(settings, instance_id)
