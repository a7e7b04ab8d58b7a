"""Callback delivery from the journal's outbox: at-least-once, in order per order, signed.

The worker never POSTs a callback directly: the transition that causes it enqueues it in
the same journal transaction, and :class:`CallbackSender` delivers from there. A
callback therefore survives a crash, is retried with exponential backoff for as long as
the receiver is down, and each order's callbacks arrive in the order they happened
(the next waits until the previous one got a 2xx). The receiver dedupes on ``event_id``.

Signature: ``X-Zoneguard-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``
over the exact bytes sent, with the millisecond ``X-Zoneguard-Timestamp`` of the attempt,
so a receiver can refuse both forgeries and old replays (:func:`verify_callback`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp

from zoneguard.worker.alerts import Alerter
from zoneguard.worker.journal import Journal, OutboxItem, encode_json

CALLBACK_PATH = "/api/orders/callback"
EVENT_ID_HEADER = "X-Zoneguard-Event-Id"
TIMESTAMP_HEADER = "X-Zoneguard-Timestamp"
SIGNATURE_HEADER = "X-Zoneguard-Signature"

REQUIRED_FIELDS: dict[str, frozenset[str]] = {
    "placed": frozenset({"order_id", "exchange_order_id", "entry_price", "quantity"}),
    "failed": frozenset({"order_id", "error"}),
    "timeout": frozenset({"order_id", "reason"}),
    "closed": frozenset({"position_id", "close_order_id", "reason", "close_price"}),
    "close_failed": frozenset({"position_id", "reason", "error"}),
    # Added by us (the app handles any status the worker adds):
    "filled": frozenset({"order_id", "exchange_order_id", "entry_price", "filled_contracts"}),
    "cancelled": frozenset({"order_id", "reason"}),
    # Issue 9's exit legs:
    "partially_closed": frozenset(
        {
            "position_id",
            "close_order_id",
            "reason",
            "take_profit_index",
            "closed_quantity",
            "remaining_quantity",
            "close_price",
        }
    ),
    "stop_moved": frozenset({"position_id", "stop_loss", "reason"}),
}
"""The seed's callback statuses and the fields its bodies carry (names must not drift).
A new status is added here first."""

_ADDED_FIELDS = ("status", "event_id", "timestamp")

REFUSED_STATUSES = frozenset({400, 404, 405, 410, 413, 415, 422})
"""Answers that say the receiver will never take this body: after
:data:`REFUSALS_BEFORE_SETTING_ASIDE` of them the callback is set aside (alert, kept,
retryable by hand) instead of blocking the order's later callbacks. Authentication
(401/403), timeouts, throttling and 5xx are retried for as long as it takes."""

REFUSALS_BEFORE_SETTING_ASIDE = 3

logger = logging.getLogger(__name__)


def callback_url_for(order_callback_url: str | None, app_base_url: str) -> str:
    """The order's own ``callback_url`` when it has one, else
    ``${APP_BASE_URL}/api/orders/callback``."""
    url = (order_callback_url or "").strip() or app_base_url.rstrip("/") + CALLBACK_PATH
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"callback URL must be http(s): {url!r}")
    return url


def build_callback_body(
    status: str, fields: Mapping[str, Any], *, event_id: str, at_ms: int
) -> dict[str, Any]:
    """The seed's body for ``status`` plus ``event_id`` and ``timestamp`` (ISO-8601 UTC of
    ``at_ms``, the moment the event happened, not of the delivery).

    Refuses an unknown status, a missing seed field, and fields that would overwrite
    ``status``/``event_id``/``timestamp``.
    """
    required = REQUIRED_FIELDS.get(status)
    if required is None:
        raise ValueError(f"unknown callback status {status!r}")
    missing = required - fields.keys()
    if missing:
        raise ValueError(f"{status} callback lacks {', '.join(sorted(missing))}")
    clashing = [key for key in _ADDED_FIELDS if key in fields]
    if clashing:
        raise ValueError(f"callback fields may not set {', '.join(clashing)}")
    return {**fields, "status": status, "event_id": event_id, "timestamp": iso_utc(at_ms)}


def iso_utc(at_ms: int) -> str:
    """``2026-05-09T07:35:25.123Z``."""
    moment = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sign_callback(secret: str | bytes, timestamp: str | int, body: bytes) -> str:
    """The ``X-Zoneguard-Signature`` value: ``sha256=`` + hex HMAC-SHA256 of
    ``<timestamp>.<body>`` under ``secret``."""
    key = secret.encode() if isinstance(secret, str) else secret
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(key, message, hashlib.sha256).hexdigest()


def verify_callback(
    secret: str | bytes,
    timestamp: str | None,
    body: bytes,
    header: str | None,
    max_age_s: float,
    *,
    now_ms: int | None = None,
) -> bool:
    """True when ``header`` signs ``timestamp`` + ``body`` under ``secret`` and the
    timestamp is within ``max_age_s`` of now (either way: clocks drift). Constant time."""
    if not timestamp or not header or not header.isascii():
        return False
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 16):
        return False
    now = _wall_ms() if now_ms is None else now_ms
    if abs(now - int(timestamp)) > max_age_s * 1000:
        return False
    expected = sign_callback(secret, timestamp, body).encode()
    return hmac.compare_digest(expected, header.strip().encode())


def backoff_delay_s(attempts: int, *, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Delay before the next try after ``attempts`` failures: ``base_s`` doubling up to
    ``cap_s``, times a random 0.75..1 so many orders' retries do not land together."""
    exponent = min(max(attempts - 1, 0), 62)
    ceiling = min(cap_s, base_s * 2.0**exponent)
    return ceiling * (0.75 + 0.25 * rng.random())


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class CallbackSender:
    """Delivers the journal's outbox. Run :meth:`run` as a task, :meth:`notify` after each
    journal transaction that enqueued callbacks, :meth:`stop` on shutdown.

    ``clock`` gives wall-clock epoch milliseconds (the journal's time base). The loop
    sleeps until notified or until the next retry is due: no polling.
    """

    def __init__(
        self,
        journal: Journal,
        session: aiohttp.ClientSession | None = None,
        *,
        secret: str | None,
        alert: Alerter,
        clock: Callable[[], int] = _wall_ms,
        alert_age_s: float = 60.0,
        max_in_flight: int = 8,
        request_timeout_s: float = 10.0,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        self._journal = journal
        self._session = session
        self._owns_session = session is None
        self._secret = secret or None
        self._alert = alert
        self._clock = clock
        self._alert_age_ms = int(alert_age_s * 1000)
        self._max_in_flight = max_in_flight
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_s)
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_flight: dict[str, asyncio.Task[None]] = {}  # order_id -> its delivery
        self._alert_tasks: set[asyncio.Task[bool]] = set()
        self._stale_alerted = False
        self._running = False
        self._done = asyncio.Event()
        self.delivered = 0
        self.failed_attempts = 0

    def notify(self) -> None:
        """New callbacks are in the journal: look now."""
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def run(self) -> None:
        """Deliver until :meth:`stop`. Survives its own errors: callbacks must keep going."""
        if self._stopping or self._running:
            return
        self._running = True
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    wait_s = self._pump()
                except Exception:
                    logger.exception("callback sender: pass failed; retrying in 1 s")
                    wait_s = 1.0
                if self._stopping:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait_s)
        finally:
            self._done.set()

    async def stop(self, grace_s: float = 2.0) -> None:
        """Stop the loop; deliveries still running get ``grace_s`` to finish, then are
        cancelled (they stay in the outbox and go out after the restart)."""
        self._stopping = True
        self._wake.set()
        if self._in_flight:
            _, pending = await asyncio.wait(set(self._in_flight.values()), timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._alert_tasks:
            await asyncio.wait(set(self._alert_tasks))
        if self._running:
            await self._done.wait()
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _pump(self) -> float | None:
        """Start what is due, check the age alarm; return how long to sleep (None: until
        notified)."""
        now = self._clock()
        free = self._max_in_flight - len(self._in_flight)
        if free > 0:
            # In-flight heads are still undelivered and come back too: ask for enough.
            for item in self._journal.due_callbacks(now, free + len(self._in_flight)):
                if item.order_id in self._in_flight:
                    continue
                if len(self._in_flight) >= self._max_in_flight:
                    break
                task = asyncio.get_running_loop().create_task(self._deliver(item))
                self._in_flight[item.order_id] = task
        wake_at = self._check_age(now)
        next_due = self._journal.next_due_ms(self._in_flight.keys())
        if len(self._in_flight) >= self._max_in_flight:
            next_due = None  # a finishing delivery wakes us
        candidates = [t for t in (next_due, wake_at) if t is not None]
        if not candidates:
            return None
        return max(0.0, (min(candidates) - self._clock()) / 1000)

    def _check_age(self, now: int) -> int | None:
        """Alert once when the oldest undelivered callback is too old, again only after it
        recovered. Returns when to look again (None: nothing to watch)."""
        oldest = self._journal.oldest_undelivered_ms()
        stale = oldest is not None and now - oldest > self._alert_age_ms
        if stale and not self._stale_alerted:
            assert oldest is not None
            self._stale_alerted = True
            self._spawn_alert(
                "callback_stale",
                f"a callback has waited {(now - oldest) / 1000:.0f} s to be delivered",
                pending=self._journal.pending_count(),
                oldest_ms=oldest,
            )
        elif not stale and self._stale_alerted:
            self._stale_alerted = False
            logger.warning(
                "callbacks flowing again", extra={"pending": self._journal.pending_count()}
            )
        if oldest is None or self._stale_alerted:
            return None
        return oldest + self._alert_age_ms + 1

    def _spawn_alert(self, kind: str, message: str, **fields: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._alert.alert(kind, message, **fields))
        self._alert_tasks.add(task)
        task.add_done_callback(self._alert_tasks.discard)

    async def _deliver(self, item: OutboxItem) -> None:
        try:
            status: int | None = None
            try:
                error, status = await self._post(item)
            except Exception as exc:  # a bug or an unusable URL: retry later, never spin
                logger.exception("callback attempt crashed", extra={"event_id": item.event_id})
                error = f"{type(exc).__name__}: {exc}"
            if error is None:
                self._journal.mark_delivered(item.event_id, self._clock())
                self.delivered += 1
                return
            self.failed_attempts += 1
            if status in REFUSED_STATUSES and item.attempts + 1 >= REFUSALS_BEFORE_SETTING_ASIDE:
                self._set_aside(item, error)
                return
            delay_s = backoff_delay_s(
                item.attempts + 1,
                base_s=self._backoff_base_s,
                cap_s=self._backoff_cap_s,
                rng=self._rng,
            )
            self._journal.mark_failed(item.event_id, error, self._clock() + int(delay_s * 1000))
            logger.warning(
                "callback not delivered, retry in %.2f s: %s",
                delay_s,
                error,
                extra={
                    "order_id": item.order_id,
                    "event_id": item.event_id,
                    "attempts": item.attempts + 1,
                },
            )
        except Exception:
            logger.exception(
                "callback bookkeeping failed",
                extra={"order_id": item.order_id, "event_id": item.event_id},
            )
        finally:
            self._in_flight.pop(item.order_id, None)
            self._wake.set()

    def _set_aside(self, item: OutboxItem, error: str) -> None:
        self._journal.mark_refused(item.event_id, error, self._clock())
        self._spawn_alert(
            "callback_refused",
            f"the receiver refused callback {item.event_id} of order {item.order_id} "
            f"({error}) {item.attempts + 1} times: set aside so the order's next callbacks "
            "go out; resend it with POST /api/callbacks/{event_id}/retry once fixed",
            order_id=item.order_id,
            event_id=item.event_id,
            status=item.body.get("status"),
        )

    async def _post(self, item: OutboxItem) -> tuple[str | None, int | None]:
        """One attempt: (None, status) on a 2xx, else (what went wrong, the HTTP status
        if there was one)."""
        assert self._session is not None
        body = encode_json(item.body)
        timestamp = str(self._clock())
        headers = {
            "Content-Type": "application/json",
            EVENT_ID_HEADER: item.event_id,
            TIMESTAMP_HEADER: timestamp,
        }
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign_callback(self._secret, timestamp, body)
        try:
            async with self._session.post(
                item.url, data=body, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as response:
                text = (await response.read())[:200].decode("utf-8", "replace")
                if 200 <= response.status < 300:
                    return None, response.status
                return f"HTTP {response.status} {text}".strip(), response.status
        except TimeoutError:
            return "timeout", None
        except (aiohttp.ClientError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}", None
