"""BitMart futures websockets on the simulator's port: public ``/api``, private ``/user``.

Publishing never waits on a socket: a push is written at once when nothing is queued
ahead of it and the socket keeps up (the frame leaves inside the call that published it,
not a loop turn later), else it joins the connection's outbox, drained by its own writer
task; either way pushes keep the order in which they were published. A push's JSON is
built once per event and the same bytes go to every subscriber. Only text frames are sent.

Connection rules (PROTOCOL §8): ``{"action":"ping"}`` -> ``{"group":"System","data":"pong"}``
and websocket ping frames get pong frames; a connection silent for ``idle_timeout_s`` is
dropped, and so is one that has not subscribed (public) or logged in (private) within
``lifeless_timeout_s``. A failed login is answered, then the connection is closed.
``{"action":"request","args":[topic]}`` answers one snapshot of an incremental-depth or
funding-rate topic at once, without subscribing (BitMart's documented recovery path).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from aiohttp import WSMsgType, web

from zoneguard.sim import wire
from zoneguard.sim.auth import Credentials, check_ws_login
from zoneguard.sim.engine import Engine
from zoneguard.sim.faults import FaultState
from zoneguard.sim.model import AccountEvents, PriceUpdate
from zoneguard.sim.public_feed import DepthStreams, PublicFrames
from zoneguard.sim.public_feed import frame as push_frame
from zoneguard.sim.topics import Topic, parse_topic

PONG = orjson.dumps({"group": "System", "data": "pong"})
LOGIN_OK = orjson.dumps({"action": "access", "success": True})
MAX_BACKLOG = 10_000
"""Frames a slow reader may fall behind by before it is disconnected, like a venue would."""
CLOSE_TIMEOUT_S = 1.0
REQUESTABLE = frozenset({"depth_increase", "funding"})

DropTarget = Literal["public", "private", "all"]


@dataclass(frozen=True, slots=True)
class WsSettings:
    idle_timeout_s: float
    lifeless_timeout_s: float


class Connection:
    """One client socket: its subscriptions, login state and outgoing queue."""

    def __init__(self, ws: web.WebSocketResponse, private: bool, request: web.Request) -> None:
        self.ws = ws
        self.private = private
        self.topics: dict[str, Topic] = {}
        self.logged_in = False
        self.alive = False  # subscribed (public) or logged in (private) at least once
        self.closing = False
        self._transport = request.transport
        self._outbox: deque[bytes] = deque()
        self._wake = asyncio.Event()

    def send(self, frame: bytes) -> None:
        if self.closing:
            return
        if not self._outbox and self._write_now(frame):
            return
        if len(self._outbox) >= MAX_BACKLOG:
            self.abort()
            return
        self._outbox.append(frame)
        self._wake.set()

    def _write_now(self, frame: bytes) -> bool:
        """Write ``frame`` to the socket now if nothing can be ahead of it: the outbox is
        empty (checked by the caller; the writer task writes a frame whole, synchronously,
        once it has taken it) and the transport's buffer too (else flow control and the
        backlog limit go through the outbox)."""
        transport = self._transport
        if (
            transport is None
            or transport.is_closing()
            or transport.get_write_buffer_size()
            or self.ws.closed
        ):
            return False
        transport.write(_text_frame(frame))
        return True

    def close(self) -> None:
        """Send what is queued, then a close frame."""
        self.closing = True
        self._wake.set()

    def abort(self) -> None:
        """Cut the TCP connection without a close frame, like a network drop."""
        self.closing = True
        self._outbox.clear()
        self._wake.set()
        if self._transport is not None:
            self._transport.close()

    async def run_writer(self) -> None:
        try:
            while True:
                while self._outbox:
                    await self.ws.send_frame(self._outbox.popleft(), WSMsgType.TEXT)
                if self.closing:
                    break
                self._wake.clear()
                await self._wake.wait()
        except (ConnectionError, RuntimeError):
            self.closing = True
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close()


def _text_frame(payload: bytes) -> bytes:
    """An unmasked server-to-client text frame, FIN set (RFC 6455 §5.2)."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


def _ack(action: str, topic: str, error: str | None) -> bytes:
    frame: dict[str, Any] = {"action": action, "group": topic, "success": error is None}
    if error is not None:
        frame["error"] = error
    frame["request"] = {"action": action, "args": [topic]}
    return orjson.dumps(frame)


class Hub:
    """Every websocket connection, who listens to what, and the publishing side."""

    def __init__(
        self,
        settings: WsSettings,
        credentials: Credentials,
        engine: Callable[[], Engine],
        faults: FaultState,
    ) -> None:
        self._settings = settings
        self._credentials = credentials
        self._engine = engine
        self._faults = faults
        self.connections: set[Connection] = set()
        self._all_gone = asyncio.Event()
        self._all_gone.set()
        self._subscribers: dict[str, set[Connection]] = {}
        self._symbol_topics: dict[str, dict[str, Topic]] = {}  # public, per symbol
        self._all_tickers: dict[str, Topic] = {}  # "futures/ticker" (+ throttled variants)
        self._depth_streams = DepthStreams()

    # ------------------------------------------------------------------ connections

    async def serve(self, request: web.Request, private: bool) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(
            autoping=False,  # pings are answered by hand: they count as activity
            compress=False,  # one encoding of a push serves every subscriber
            timeout=CLOSE_TIMEOUT_S,
            max_msg_size=1 << 16,
        )
        await ws.prepare(request)
        conn = Connection(ws, private, request)
        self.connections.add(conn)
        self._all_gone.clear()
        writer = asyncio.create_task(conn.run_writer())
        loop = asyncio.get_running_loop()
        opened = last_heard = loop.time()
        try:
            while not conn.closing:
                deadline = last_heard + self._settings.idle_timeout_s
                if not conn.alive:
                    deadline = min(deadline, opened + self._settings.lifeless_timeout_s)
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    msg = await ws.receive(timeout=remaining)
                except TimeoutError:
                    continue
                if msg.type is WSMsgType.TEXT:
                    last_heard = loop.time()
                    self._on_text(conn, msg.data)
                elif msg.type is WSMsgType.BINARY:
                    last_heard = loop.time()
                    self._on_text(conn, msg.data.decode("utf-8", errors="replace"))
                elif msg.type is WSMsgType.PING:
                    last_heard = loop.time()
                    await ws.pong(msg.data)
                elif msg.type is WSMsgType.PONG:
                    last_heard = loop.time()
                else:
                    break
        finally:
            self._forget(conn)
            conn.close()
            await writer
        return ws

    def _forget(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if not self.connections:
            self._all_gone.set()
        for name in list(conn.topics):
            self._unsubscribe(conn, name)

    def drop(self, target: DropTarget) -> int:
        """Cut the chosen sockets now (fault injection); returns how many."""
        victims = [
            conn
            for conn in self.connections
            if target == "all" or conn.private == (target == "private")
        ]
        for conn in victims:
            conn.abort()
        return len(victims)

    async def close_all(self) -> None:
        for conn in list(self.connections):
            conn.close()
        await self._all_gone.wait()

    # ------------------------------------------------------------------ client frames

    def _on_text(self, conn: Connection, text: str) -> None:
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError:
            conn.send(orjson.dumps({"success": False, "error": "invalid json"}))
            return
        if not isinstance(msg, dict):
            conn.send(orjson.dumps({"success": False, "error": "invalid request"}))
            return
        action = msg.get("action")
        args = msg.get("args")
        if action == "ping":
            conn.send(PONG)
        elif action == "access":
            self._login(conn, args)
        elif action == "request":
            for topic in args if isinstance(args, list) else [args]:
                self._request(conn, topic)
        elif action in ("subscribe", "unsubscribe"):
            if not isinstance(args, list) or not args:
                conn.send(
                    orjson.dumps(
                        {"action": action, "success": False, "error": "args must be a list"}
                    )
                )
                return
            for topic in args:
                if action == "subscribe":
                    self._subscribe(conn, topic)
                else:
                    name = topic if isinstance(topic, str) else str(topic)
                    self._unsubscribe(conn, name)
                    conn.send(_ack("unsubscribe", name, None))
        else:
            conn.send(orjson.dumps({"action": action, "success": False, "error": "unknown action"}))

    def _login(self, conn: Connection, args: object) -> None:
        if not conn.private:
            conn.send(
                orjson.dumps(
                    {
                        "action": "access",
                        "success": False,
                        "error": "access failed: login is for the private endpoint /user",
                    }
                )
            )
            return
        reason = check_ws_login(args, self._credentials, self._engine().now_ms())
        if reason is not None:
            conn.send(
                orjson.dumps(
                    {"action": "access", "success": False, "error": f"access failed: {reason}"}
                )
            )
            conn.close()
            return
        conn.logged_in = True
        conn.alive = True
        conn.send(LOGIN_OK)

    def _subscribe(self, conn: Connection, raw: object) -> None:
        if not isinstance(raw, str):
            conn.send(_ack("subscribe", str(raw), "topic must be a string"))
            return
        parsed = parse_topic(raw, self._engine().symbols)
        if isinstance(parsed, str):
            conn.send(_ack("subscribe", raw, parsed))
            return
        if parsed.private and not conn.private:
            conn.send(_ack("subscribe", raw, "private topic: use the /user endpoint"))
            return
        if not parsed.private and conn.private:
            conn.send(_ack("subscribe", raw, "public topic: use the /api endpoint"))
            return
        if parsed.private and not conn.logged_in:
            conn.send(_ack("subscribe", raw, "not logged in: send access first"))
            return
        conn.topics[raw] = parsed
        self._subscribers.setdefault(raw, set()).add(conn)
        if parsed.kind == "ticker_all":
            self._all_tickers[raw] = parsed
        elif not parsed.private:
            self._symbol_topics.setdefault(parsed.symbol, {})[raw] = parsed
        conn.alive = True
        conn.send(_ack("subscribe", raw, None))
        if not parsed.private and not self._faults.stall_feed:
            for frame in self._snapshot(parsed):
                conn.send(frame)

    def _request(self, conn: Connection, raw: object) -> None:
        """``request``: one snapshot now, without subscribing (documented for incremental
        depth and the funding rate)."""
        name = raw if isinstance(raw, str) else str(raw)
        parsed = parse_topic(name, self._engine().symbols)
        if isinstance(parsed, str):
            conn.send(_ack("request", name, parsed))
        elif parsed.kind not in REQUESTABLE or conn.private:
            conn.send(_ack("request", name, "request serves depthIncrease and fundingRate"))
        else:
            for frame in self._snapshot(parsed):
                conn.send(frame)

    def _unsubscribe(self, conn: Connection, name: str) -> None:
        topic = conn.topics.pop(name, None)
        if topic is None:
            return
        listeners = self._subscribers.get(name)
        if listeners is None:
            return
        listeners.discard(conn)
        if listeners:
            return
        del self._subscribers[name]
        if topic.kind == "ticker_all":
            self._all_tickers.pop(name, None)
        elif not topic.private:
            per_symbol = self._symbol_topics.get(topic.symbol, {})
            per_symbol.pop(name, None)
            if not per_symbol:
                self._symbol_topics.pop(topic.symbol, None)

    # ------------------------------------------------------------------ public pushes

    def _snapshot(self, topic: Topic) -> list[bytes]:
        """Current state sent right after a subscribe ack (no trade: trades are events)."""
        engine = self._engine()
        if topic.kind == "ticker_all":
            return [
                push_frame(topic.group, wire.ticker_push(engine.book(s), engine))
                for s in engine.symbols
            ]
        if topic.kind == "trade":
            return []
        return PublicFrames(engine, topic.symbol, None, self._depth_streams).frames(topic)

    def publish_market(self, update: PriceUpdate) -> None:
        """Ticker, kline, depth and trade pushes for one price change."""
        if self._faults.stall_feed:
            return
        topics = self._symbol_topics.get(update.symbol)
        if not topics and not self._all_tickers:
            return
        builder = PublicFrames(self._engine(), update.symbol, update, self._depth_streams)
        for topic in self._with_all_tickers(topics):
            frames = builder.frames(topic)
            for conn in self._subscribers.get(topic.name, ()):
                for frame in frames:
                    conn.send(frame)

    def refresh_tickers(self) -> None:
        """Re-send every subscribed ticker: BitMart pushes tickers even when nothing trades."""
        if self._faults.stall_feed:
            return
        engine = self._engine()
        for symbol in engine.symbols:
            topics = [t for t in self._symbol_topics.get(symbol, {}).values() if t.kind == "ticker"]
            if not topics and not self._all_tickers:
                continue
            builder = PublicFrames(engine, symbol, None, self._depth_streams)
            for topic in [*topics, *self._all_tickers.values()]:
                frames = builder.frames(topic)
                for conn in self._subscribers.get(topic.name, ()):
                    for frame in frames:
                        conn.send(frame)

    def publish_funding(self) -> None:
        """The funding-rate channel's periodic push (BitMart: every minute)."""
        if self._faults.stall_feed:
            return
        engine = self._engine()
        for symbol, topics in list(self._symbol_topics.items()):
            funding = [t for t in topics.values() if t.kind == "funding"]
            if not funding:
                continue
            builder = PublicFrames(engine, symbol, None, self._depth_streams)
            for topic in funding:
                frames = builder.frames(topic)
                for conn in self._subscribers.get(topic.name, ()):
                    for frame in frames:
                        conn.send(frame)

    def _with_all_tickers(self, topics: dict[str, Topic] | None) -> Iterable[Topic]:
        if topics:
            yield from list(topics.values())
        yield from list(self._all_tickers.values())

    # ------------------------------------------------------------------ private pushes

    def publish_account(self, events: AccountEvents) -> None:
        if events.empty:
            return
        engine = self._engine()
        order_listeners = self._subscribers.get("futures/order")
        if order_listeners:
            for event in events.orders:
                if self._faults.take_dropped_order_push():
                    continue
                frame = push_frame(
                    "futures/order", [wire.order_push(event.order, event.action, event.fill)]
                )
                for conn in order_listeners:
                    conn.send(frame)
        if events.positions:
            self._send_positions(events.positions, engine)
        if events.balance is not None:
            for name in ("futures/asset:USDT",):
                listeners = self._subscribers.get(name)
                if listeners:
                    frame = push_frame(name, wire.asset_push("USDT", events.balance))
                    for conn in listeners:
                        conn.send(frame)

    def publish_positions(self) -> None:
        """The periodic position push: every open position."""
        engine = self._engine()
        open_positions = [p for p in engine.positions() if p.hold > 0]
        if open_positions:
            self._send_positions(open_positions, engine)

    def _send_positions(self, positions: Iterable[Any], engine: Engine) -> None:
        listeners = self._subscribers.get("futures/position")
        if not listeners:
            return
        frame = push_frame("futures/position", [wire.position_push(p, engine) for p in positions])
        for conn in listeners:
            conn.send(frame)
