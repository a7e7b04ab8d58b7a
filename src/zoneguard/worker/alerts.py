"""Operator alerts: what a human must act on (a position that cannot be closed, callbacks
that no longer get through).

Every alert is a CRITICAL log line. When ``ALERT_WEBHOOK_URL`` is set it is also POSTed
there as JSON; a webhook failure is logged and swallowed, because the caller is usually in
the middle of guarding money and must not be derailed by a chat service being down. The
same alert repeated within the de-dup window is still logged (marked ``repeat=N``) but
not POSTed again, so an outage pages once, not every retry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson

from zoneguard.worker.logs import mask_secrets

DEFAULT_DEDUP_WINDOW_S = 300.0
DEFAULT_WEBHOOK_TIMEOUT_S = 5.0


@dataclass(slots=True)
class _Seen:
    first_at: float
    repeats: int = 0


class Alerter:
    """Raises operator alerts. Owns an aiohttp session only if none is given."""

    def __init__(
        self,
        webhook_url: str | None,
        logger: logging.Logger,
        *,
        session: aiohttp.ClientSession | None = None,
        dedup_window_s: float = DEFAULT_DEDUP_WINDOW_S,
        timeout_s: float = DEFAULT_WEBHOOK_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
        service: str = "zoneguard-worker",
    ) -> None:
        self._webhook_url = webhook_url or None
        self._logger = logger
        self._session = session
        self._owns_session = session is None
        self._dedup_window_s = dedup_window_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._clock = clock
        self._service = service
        self._seen: dict[str, _Seen] = {}
        self._background: set[asyncio.Task[bool]] = set()

    async def alert(
        self, kind: str, message: str, *, dedup_key: str | None = None, **fields: Any
    ) -> bool:
        """Log ``message`` at CRITICAL and POST it to the webhook unless the same alert
        (``dedup_key``, by default ``kind`` + ``message``) went out within the window.

        Returns True when the alert was new (not a repeat). Never raises for the webhook.
        """
        repeat = self._register(dedup_key if dedup_key is not None else f"{kind}:{message}")
        extra = {"alert": kind, **fields}
        if repeat:
            extra["repeat"] = repeat
        self._logger.critical("ALERT %s: %s", kind, message, extra=_log_safe(extra))
        if repeat or self._webhook_url is None:
            return not repeat
        await self._post(kind, message, fields)
        return True

    def fire(self, kind: str, message: str, *, dedup_key: str | None = None, **fields: Any) -> None:
        """:meth:`alert` without waiting: the webhook POST runs in the background, so a
        hot path can raise an alert without a network round trip."""
        task = asyncio.get_running_loop().create_task(
            self.alert(kind, message, dedup_key=dedup_key, **fields)
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """Wait for background alerts (bounded by the webhook timeout), then release the
        session this Alerter created."""
        if self._background:
            await asyncio.wait(set(self._background))
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _register(self, key: str) -> int:
        """0 for a new alert, else how many times it repeated within the window."""
        now = self._clock()
        for old_key in [
            k for k, s in self._seen.items() if now - s.first_at >= self._dedup_window_s
        ]:
            del self._seen[old_key]
        seen = self._seen.get(key)
        if seen is None:
            self._seen[key] = _Seen(first_at=now)
            return 0
        seen.repeats += 1
        return seen.repeats

    async def _post(self, kind: str, message: str, fields: dict[str, Any]) -> None:
        assert self._webhook_url is not None
        body = {
            "service": self._service,
            "kind": kind,
            "message": mask_secrets(message),
            "fields": {key: _mask_value(value) for key, value in fields.items()},
            "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        try:
            if self._session is None:
                self._session = aiohttp.ClientSession()
            async with self._session.post(
                self._webhook_url,
                data=orjson.dumps(body, default=str),
                headers={"Content-Type": "application/json"},
                timeout=self._timeout,
            ) as response:
                await response.read()
                if response.status >= 300:
                    self._logger.error(
                        "alert webhook answered HTTP %s", response.status, extra={"alert": kind}
                    )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # The URL is not logged: chat webhooks carry their token in it.
            self._logger.error(
                "alert webhook unreachable: %s", type(exc).__name__, extra={"alert": kind}
            )


def _mask_value(value: Any) -> Any:
    return mask_secrets(value) if isinstance(value, str) else value


_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


def _log_safe(extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` keys that clash with LogRecord attributes get a ``field_`` prefix instead
    of making ``logging`` raise."""
    return {(f"field_{k}" if k in _RESERVED else k): v for k, v in extra.items()}
