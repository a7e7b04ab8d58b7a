"""One self-healing BitMart futures websocket (public ``/api`` or private ``/user``).

It keeps a set of wanted topics and makes reality match it: connect, log in (private),
subscribe in frames of at most 20 topics, send ``{"action":"ping"}`` every few seconds,
and treat a connection that stays silent for ``silence_timeout_s`` as dead even if TCP
says it is open. Any loss -> reconnect with exponential backoff and jitter (the first
retry is fast), log in again and subscribe everything again. BitMart has no replay, so
the owner is told (``on_state``) and must reconcile over REST.

Pushes are handed on synchronously as ``(group, data, received_ns)`` with the throttle
suffix (``@100ms``) stripped from the group; acks, pongs and login replies stay here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import aiohttp
import orjson

from zoneguard.exchange.bitmart.topics import strip_throttle_suffix
from zoneguard.exchange.errors import AuthenticationFailed, InvalidRequest

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, Any, int], None]
"""(group without ``@..ms`` suffix, ``data`` of the push, monotonic ns at receipt)."""
StateHandler = Callable[[str, bool], None]
"""(connection name, up?) — up means connected, logged in when private, subscribed."""
LoginArgs = Callable[[], list[str]]
"""Builds fresh ``access`` args (a new timestamp) for each login."""

MAX_TOPICS_PER_FRAME = 20
_PING_FRAME = orjson.dumps({"action": "ping"}).decode()


class BitMartWebSocket:
    """Connection manager for one websocket URL; owns no parsing of business data."""

    def __init__(
        self,
        url: str,
        *,
        name: str,
        on_message: MessageHandler,
        on_state: StateHandler | None = None,
        session: aiohttp.ClientSession | None = None,
        login_args: LoginArgs | None = None,
        ping_interval_s: float = 10.0,
        silence_timeout_s: float = 20.0,
        reconnect_initial_s: float = 0.1,
        reconnect_max_s: float = 5.0,
        ack_timeout_s: float = 5.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.url = url
        self.name = name
        self._on_message = on_message
        self._on_state = on_state
        self._session = session
        self._owns_session = session is None
        self._login_args = login_args
        self._ping_interval_s = ping_interval_s
        self._silence_timeout_s = silence_timeout_s
        self._reconnect_initial_s = reconnect_initial_s
        self._reconnect_max_s = reconnect_max_s
        self._ack_timeout_s = ack_timeout_s
        self._connect_timeout_s = connect_timeout_s

        self._wanted: set[str] = set()
        self._confirmed: set[str] = set()
        self._pending: dict[str, asyncio.Future[str | None]] = {}
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._runner: asyncio.Task[None] | None = None
        self._closing = False
        self._changed = asyncio.Event()
        self._auth_error: str | None = None

        self.connected = False
        """Socket open (and, for a private socket, logged in)."""
        self.logged_in = False
        self.reconnects = 0
        self.last_message_ns: int | None = None
        """Monotonic ns of the last frame of any kind (pongs and acks included)."""
        self.last_data_ns: int | None = None
        """Monotonic ns of the last data push (what a feed's freshness means)."""

    def __repr__(self) -> str:
        return f"BitMartWebSocket(name={self.name!r}, url={self.url!r}, up={self.connected})"

    @property
    def socket_open(self) -> bool:
        return self._ws is not None and not self._ws.closed

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(self._wanted)

    @property
    def confirmed_topics(self) -> frozenset[str]:
        return frozenset(self._confirmed)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the connect/reconnect loop (idempotent)."""
        if self._runner is None or self._runner.done():
            self._closing = False
            if self._session is None or self._session.closed:
                self._session = aiohttp.ClientSession()
                self._owns_session = True
            self._runner = asyncio.get_running_loop().create_task(
                self._run(), name=f"bitmart-ws-{self.name}"
            )

    async def close(self) -> None:
        self._closing = True
        # Stop the reading task first: a close() racing it for the server's close frame
        # would sit out aiohttp's whole close timeout (10 s) on every shutdown.
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None
        ws = self._ws
        if ws is not None and not ws.closed:
            await ws.close()
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def force_reconnect(self) -> None:
        """Drop the current connection; the loop reconnects and resubscribes."""
        ws = self._ws
        if ws is not None:
            await ws.close()

    async def wait_ready(self, timeout_s: float) -> bool:
        """True once up; False on timeout; AuthenticationFailed if the login was refused."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.connected:
                return True
            if self._auth_error is not None:
                raise AuthenticationFailed(self._auth_error)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # -- subscriptions ---------------------------------------------------------------------

    async def subscribe(self, topics: Sequence[str]) -> None:
        """Want these topics from now on, and wait (``ack_timeout_s``) for the acks.

        A refused topic raises InvalidRequest and is forgotten. An unanswered one (not
        connected yet, no ack in time) stays wanted and is sent again on every connect.
        """
        waiting: dict[str, asyncio.Future[str | None]] = {}
        to_send: list[str] = []
        for topic in dict.fromkeys(topics):
            self._wanted.add(topic)
            if topic in self._confirmed:
                continue
            future = self._pending.get(topic)
            if future is None or future.done():
                future = asyncio.get_running_loop().create_future()
                self._pending[topic] = future
                to_send.append(topic)
            waiting[topic] = future
        if to_send and self.connected and self._ws is not None:
            await self._send_topics(self._ws, "subscribe", to_send)
        if not waiting:
            return
        done, _ = await asyncio.wait(waiting.values(), timeout=self._ack_timeout_s)
        refused = {
            topic: future.result()
            for topic, future in waiting.items()
            if future in done and future.result() is not None
        }
        unanswered = [topic for topic, future in waiting.items() if future not in done]
        if unanswered:
            log.warning("%s: no subscribe ack yet for %s; kept for retry", self.name, unanswered)
        if refused:
            for topic in refused:
                self._wanted.discard(topic)
            details = "; ".join(f"{topic}: {error}" for topic, error in refused.items())
            raise InvalidRequest(f"subscription refused: {details}")

    async def unsubscribe(self, topics: Sequence[str]) -> None:
        dropped = [topic for topic in dict.fromkeys(topics) if topic in self._wanted]
        for topic in dropped:
            self._wanted.discard(topic)
            self._confirmed.discard(topic)
            future = self._pending.pop(topic, None)
            if future is not None and not future.done():
                future.set_result(None)
        if dropped and self.connected and self._ws is not None:
            await self._send_topics(self._ws, "unsubscribe", dropped)

    async def _send_topics(
        self, ws: aiohttp.ClientWebSocketResponse, action: str, topics: Iterable[str]
    ) -> None:
        batch = list(topics)
        for start in range(0, len(batch), MAX_TOPICS_PER_FRAME):
            frame = {"action": action, "args": batch[start : start + MAX_TOPICS_PER_FRAME]}
            try:
                await ws.send_str(orjson.dumps(frame).decode())
            except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
                # The read loop sees the loss and reconnects; wanted topics are resent then.
                log.warning("%s: %s send failed: %r", self.name, action, exc)
                return

    # -- connection loop -------------------------------------------------------------------

    def _backoff_s(self, attempt: int) -> float:
        ceiling = min(self._reconnect_max_s, self._reconnect_initial_s * 2.0 ** min(attempt, 30))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            session = self._session
            assert session is not None
            try:
                async with asyncio.timeout(self._connect_timeout_s):
                    ws = await session.ws_connect(self.url, autoping=True, heartbeat=None)
            except Exception as exc:  # refused, DNS, TLS, handshake, timeout: retry them all
                log.warning("%s: connect to %s failed: %r", self.name, self.url, exc)
            else:
                self._ws = ws
                try:
                    was_up = await self._serve(ws)
                except (aiohttp.ClientError, ConnectionError) as exc:
                    log.warning("%s: connection lost: %r", self.name, exc)
                    was_up = self.connected
                except Exception:
                    # Never let a surprise end the loop: a dead feed is worse than a log line.
                    log.exception("%s: connection failed unexpectedly", self.name)
                    was_up = self.connected
                finally:
                    self._ws = None
                    await ws.close()
                    self._mark_down()
                if was_up:
                    attempt = 0
                if self._auth_error is not None:
                    attempt = max(attempt, 16)  # refused credentials: retry slowly
            if self._closing:
                break
            delay = self._backoff_s(attempt)
            attempt += 1
            self.reconnects += 1
            log.info("%s: reconnecting in %.2fs", self.name, delay)
            await asyncio.sleep(delay)

    def _mark_down(self) -> None:
        was_up = self.connected
        self.connected = False
        self.logged_in = False
        self._confirmed.clear()
        self._notify()
        if was_up and self._on_state is not None:
            self._safe_state_callback(False)

    def _safe_state_callback(self, up: bool) -> None:
        assert self._on_state is not None
        try:
            self._on_state(self.name, up)
        except Exception:
            log.exception("%s: connection handler failed", self.name)

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> bool:
        """Run one connection until it ends; returns whether it ever became ready."""
        pinger = asyncio.get_running_loop().create_task(self._ping_loop(ws))
        login_deadline: float | None = None
        try:
            if self._login_args is not None:
                frame = {"action": "access", "args": self._login_args()}
                await ws.send_str(orjson.dumps(frame).decode())
                login_deadline = time.monotonic() + self._ack_timeout_s
            else:
                await self._become_ready(ws)
            while not self._closing:
                timeout = self._silence_timeout_s
                if login_deadline is not None and not self.connected:
                    timeout = min(timeout, login_deadline - time.monotonic())
                    if timeout <= 0:
                        log.warning("%s: no login reply; reconnecting", self.name)
                        return False
                try:
                    message = await ws.receive(timeout=timeout)
                except TimeoutError:
                    if login_deadline is not None and not self.connected:
                        continue  # the deadline check above decides
                    log.warning(
                        "%s: silent for %.1fs; reconnecting", self.name, self._silence_timeout_s
                    )
                    return True
                received_ns = time.monotonic_ns()
                if message.type is aiohttp.WSMsgType.TEXT:
                    payload: str | bytes = message.data
                elif message.type is aiohttp.WSMsgType.BINARY:
                    payload = _inflate(message.data)
                else:
                    log.info("%s: socket closed (%s)", self.name, message.type.name)
                    return self.connected
                self.last_message_ns = received_ns
                verdict = self._handle(payload, received_ns)
                if verdict is _LOGIN_OK:
                    await self._become_ready(ws)
                elif verdict is _LOGIN_REFUSED:
                    return False
            return self.connected
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger

    async def _become_ready(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.connected = True
        self._auth_error = None
        loop = asyncio.get_running_loop()
        for topic in self._wanted:
            future = self._pending.get(topic)
            if future is None or future.done():
                self._pending[topic] = loop.create_future()
        await self._send_topics(ws, "subscribe", sorted(self._wanted))
        self._notify()
        if self._on_state is not None:
            self._safe_state_callback(True)

    async def _ping_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while not ws.closed:
            await asyncio.sleep(self._ping_interval_s)
            try:
                await ws.send_str(_PING_FRAME)
            except (aiohttp.ClientError, ConnectionError, RuntimeError):
                return

    # -- frames ----------------------------------------------------------------------------

    def _handle(self, payload: str | bytes, received_ns: int) -> object:
        try:
            message = orjson.loads(payload)
        except orjson.JSONDecodeError:
            log.warning("%s: non-JSON frame ignored: %.200r", self.name, payload)
            return None
        if not isinstance(message, dict):
            return None
        action = message.get("action")
        if action is not None:
            return self._handle_reply(action, message)
        group = message.get("group")
        if not isinstance(group, str) or "data" not in message:
            return None
        if group == "System":  # {"group":"System","data":"pong"}
            return None
        self.last_data_ns = received_ns
        try:
            self._on_message(strip_throttle_suffix(group), message["data"], received_ns)
        except Exception:
            log.exception("%s: handler failed for %s", self.name, group)
        return None

    def _handle_reply(self, action: object, message: dict[str, Any]) -> object:
        success = message.get("success") is True
        if action == "access":
            if success:
                self.logged_in = True
                return _LOGIN_OK
            self._auth_error = f"websocket login refused: {message.get('error', 'no reason')}"
            log.error("%s: %s", self.name, self._auth_error)
            self._notify()
            return _LOGIN_REFUSED
        if action in ("subscribe", "unsubscribe"):
            for topic in _reply_topics(message):
                if action == "unsubscribe":
                    continue
                if success and topic in self._wanted:
                    self._confirmed.add(topic)
                future = self._pending.pop(topic, None)
                if future is not None and not future.done():
                    error = None if success else str(message.get("error") or "refused")
                    future.set_result(error)
            if not success:
                log.warning("%s: %s refused: %s", self.name, action, message.get("error"))
        return None


_LOGIN_OK = object()
_LOGIN_REFUSED = object()


def _reply_topics(message: dict[str, Any]) -> list[str]:
    """An ack names its topic in ``group``, or else in the echoed ``request.args``."""
    group = message.get("group")
    if isinstance(group, str) and group:
        return [strip_throttle_suffix(group)]
    request = message.get("request")
    if isinstance(request, dict) and isinstance(request.get("args"), list):
        return [arg for arg in request["args"] if isinstance(arg, str)]
    return []


def _inflate(data: bytes) -> bytes:
    """BitMart's binary frames are raw DEFLATE (no zlib header)."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    return inflater.decompress(data) + inflater.flush()
