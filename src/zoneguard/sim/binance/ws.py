"""Binance USDⓈ-M websockets on the simulator's port: routes ``/public``, ``/market``,
``/private``, each in raw and combined mode.

URLs (Binance's "Important WebSocket Change Notice", 2026-03, and its stream pages):

* ``/<route>/ws[/<stream>/<stream>...]``: raw mode, each push is the payload itself;
* ``/<route>/stream[?streams=a/b]``: combined mode, each push is
  ``{"stream": <name>, "data": <payload>}``;
* ``/private/ws?listenKey=<key>``, ``/private/ws/<key>`` and the legacy ``/ws/<key>``: user
  data, raw; ``/private/stream?listenKey=<key>`` or ``?streams=<key>``: user data,
  combined, the stream being named by the key (Binance's legacy combined user stream);
  a ``/private`` connection may also ``SUBSCRIBE`` to a listenKey, which is what
  Binance's SDK does.

Requests a client may send (documented): ``{"method": "SUBSCRIBE"|"UNSUBSCRIBE",
"params": [...], "id": n}`` answered ``{"result": null, "id": n}``, ``LIST_SUBSCRIPTIONS``
answered with the list, ``SET_PROPERTY ["combined", bool]`` and ``GET_PROPERTY
["combined"]``. Errors are documented as ``{"code": n, "msg": ...}`` (0 unknown property,
1 invalid value type, 2 invalid request, 3 invalid JSON); the envelope
``{"error": {...}, "id": n}`` around them is inferred from observed traffic. Binance's docs
call ``id`` an unsigned integer, yet its own SDK sends UUID strings: both are accepted.

Inferred, not documented:
* a stream served by another route (``btcusdt@bookTicker`` on ``/market``) is refused:
  in a ``SUBSCRIBE`` with error code 2 (nothing of that request is subscribed), in a URL
  with HTTP 400 before the upgrade;
* an unknown or expired listenKey in a URL is refused with HTTP 400 and Binance's REST
  error -1125 "This listenKey does not exist."; in a ``SUBSCRIBE`` with code 2;
* a listenKey closed by ``DELETE /fapi/v1/listenKey`` closes its connections (documented:
  "will close the stream") without a ``listenKeyExpired``; one that runs out pushes
  ``listenKeyExpired`` and is then closed (Binance documents the event and that nothing
  more comes; closing the socket is the simulator's reading).

Connection rules (documented): the server sends a ping frame every 3 minutes and drops a
connection that stays silent (no pong, no frame) for 10; a connection lives 24 hours; a
connection that sends more than 10 messages in a second is disconnected. All four
numbers are :class:`~zoneguard.sim.config.SimConfig` settings.

Pushes come from the engine's events (:meth:`BinanceHub.publish_market`,
:meth:`BinanceHub.publish_account`) and never wait on a socket: each connection has the
BitMart hub's outbox and writer (:class:`zoneguard.sim.ws.Connection`).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import orjson
from aiohttp import WSMsgType, web

from zoneguard.sim.binance import pushes
from zoneguard.sim.binance.memory import Memory
from zoneguard.sim.binance.shapes import algo_status
from zoneguard.sim.binance.streams import RouteName, Stream, parse_stream
from zoneguard.sim.config import SimConfig
from zoneguard.sim.engine import Engine
from zoneguard.sim.model import AccountEvents, Position, PriceUpdate
from zoneguard.sim.ws import CLOSE_TIMEOUT_S, Connection

ROUTES: tuple[RouteName, ...] = ("public", "market", "private")
INVALID_VALUE_TYPE = 1
INVALID_REQUEST = 2
INVALID_JSON = 3
UNKNOWN_PROPERTY = 0
NO_SUCH_LISTEN_KEY = -1125
TERMINAL_ALGO = frozenset({"FINISHED", "CANCELED", "EXPIRED", "REJECTED"})
MAX_REQUEST_ID_LENGTH = 64


class Refused(Exception):
    """A connection refused before the upgrade: HTTP status, Binance code and message."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg


@dataclass(frozen=True, slots=True)
class WsLimits:
    ping_interval_s: float
    pong_timeout_s: float
    max_lifetime_s: float
    max_messages_per_s: int

    @classmethod
    def of(cls, config: SimConfig) -> WsLimits:
        return cls(
            config.binance_ws_ping_interval_s,
            config.binance_ws_pong_timeout_s,
            config.binance_ws_max_lifetime_s,
            config.binance_ws_max_messages_per_s,
        )


@dataclass(eq=False)
class Client:
    """One Binance-dialect socket: its route, mode and subscriptions."""

    out: Connection
    route: RouteName
    combined: bool
    subscribed: dict[str, Stream | None] = field(default_factory=dict)
    """Every name subscribed, in order; None for a name the simulator does not serve."""
    listen_key: str = ""
    """``/private``: the listenKey whose events this connection receives ("" none yet)."""

    def frame(self, name: str, payload: bytes) -> bytes:
        if not self.combined:
            return payload
        return b'{"stream":' + orjson.dumps(name) + b',"data":' + payload + b"}"


def _reply(result: object, request_id: object) -> bytes:
    return orjson.dumps({"result": result, "id": request_id})


def _error(code: int, msg: str, request_id: object) -> bytes:
    return orjson.dumps({"error": {"code": code, "msg": msg}, "id": request_id})


def _valid_id(request_id: object) -> bool:
    if isinstance(request_id, bool):
        return False
    if isinstance(request_id, int):
        return request_id >= 0
    if isinstance(request_id, str):
        return 0 < len(request_id) <= MAX_REQUEST_ID_LENGTH
    return request_id is None


def _wrong_route(stream: Stream, route: RouteName) -> str:
    return f"Invalid request: stream {stream.name} is served on /{stream.route}, not on /{route}"


class BinanceHub:
    """Every Binance-dialect websocket, who listens to what, and the publishing side."""

    def __init__(
        self,
        config: SimConfig,
        engine: Callable[[], Engine],
        memory: Callable[[], Memory],
    ) -> None:
        self._limits = WsLimits.of(config)
        self._engine = engine
        self._memory = memory
        self.clients: set[Client] = set()
        self._all_gone = asyncio.Event()
        self._all_gone.set()
        self._listeners: dict[str, dict[str, set[Client]]] = {}
        """symbol -> stream name -> the clients subscribed to it."""
        self._streams: dict[str, Stream] = {}
        self._private: set[Client] = set()
        self._update_ids = itertools.count(1)
        self._depth_last: dict[str, int] = {}
        self._mark_ticks = 0
        self._algo_memory: Memory | None = None
        self._algo_seen: dict[int, str] = {}
        self._algo_known = 0
        self._positions_seen: dict[tuple[str, int], tuple[int, Decimal]] = {}

    # ------------------------------------------------------------------ connections

    @staticmethod
    def serves(path: str) -> bool:
        """Whether ``path`` is one of this dialect's websocket paths."""
        head = path.split("/", 2)[1] if path.startswith("/") else ""
        return head in ROUTES or path.startswith("/ws/")

    async def serve(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(
            autoping=False,  # pings are answered by hand: they count as activity
            compress=False,
            timeout=CLOSE_TIMEOUT_S,
            max_msg_size=1 << 16,
        )
        if not ws.can_prepare(request).ok:
            return web.json_response({"code": -1, "msg": "websocket upgrade expected"}, status=400)
        try:
            route, combined, names, listen_key = self._connect_terms(request)
        except Refused as refused:
            return web.json_response(
                {"code": refused.code, "msg": refused.msg}, status=refused.status
            )
        await ws.prepare(request)
        conn = Connection(ws, route == "private", request)
        client = Client(conn, route, combined)
        self.clients.add(client)
        self._all_gone.clear()
        for name in names:
            self._add(client, name, parse_stream(name, self._engine().symbols))
        if listen_key:
            self._add_user(client, listen_key)
        writer = asyncio.create_task(conn.run_writer())
        try:
            await self._read(client, ws)
        finally:
            self._forget(client)
            conn.close()
            await writer
        return ws

    def _connect_terms(self, request: web.Request) -> tuple[RouteName, bool, list[str], str]:
        """(route, combined, streams, listenKey) of a connection URL; Refused if bad."""
        parts = request.path.strip("/").split("/")
        if parts[0] == "ws":  # legacy /ws/<listenKey>
            parts = ["private", *parts]
        route = parts[0]
        if route not in ROUTES or len(parts) < 2 or parts[1] not in ("ws", "stream"):
            raise Refused(404, -1, f"No websocket at {request.path}")
        combined = parts[1] == "stream"
        names = [n for n in parts[2:] if n]
        if combined:
            names += [n for n in request.query.get("streams", "").split("/") if n]
        if route == "private":
            keys = [request.query.get("listenKey", ""), *names]
            keys = [k for k in keys if k]
            if len(keys) > 1:
                raise Refused(400, INVALID_REQUEST, "Invalid request: one listenKey per connection")
            key = keys[0] if keys else ""
            if key and not self._memory().listen_key_valid(key, self._engine().now_ms()):
                raise Refused(400, NO_SUCH_LISTEN_KEY, "This listenKey does not exist.")
            return "private", combined, [], key
        symbols = self._engine().symbols
        for name in names:
            stream = parse_stream(name, symbols)
            if stream is not None and stream.route != route:
                raise Refused(400, INVALID_REQUEST, _wrong_route(stream, route))
        return route, combined, names, ""

    async def _read(self, client: Client, ws: web.WebSocketResponse) -> None:
        limits = self._limits
        conn = client.out
        loop = asyncio.get_running_loop()
        opened = last_heard = loop.time()
        next_ping = opened + limits.ping_interval_s
        window_start, window_count = opened, 0
        while not conn.closing:
            now = loop.time()
            if now >= opened + limits.max_lifetime_s:
                return
            if now >= last_heard + limits.pong_timeout_s:
                conn.abort()
                return
            if client.listen_key and self._listen_key_gone(client):
                return
            if now >= next_ping:
                await ws.ping()
                next_ping = now + limits.ping_interval_s
            deadline = min(
                opened + limits.max_lifetime_s, last_heard + limits.pong_timeout_s, next_ping
            )
            if client.listen_key:
                memory = self._memory()
                left_s = (memory.listen_key_expires_ms - self._engine().now_ms()) / 1000
                deadline = min(deadline, now + max(left_s, 0.001))
            try:
                msg = await ws.receive(timeout=max(deadline - now, 0.001))
            except TimeoutError:
                continue
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                last_heard = loop.time()
                if last_heard - window_start >= 1.0:
                    window_start, window_count = last_heard, 0
                window_count += 1
                if 0 < limits.max_messages_per_s < window_count:
                    return  # Binance disconnects a connection over its message rate
                data = msg.data
                text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
                self._on_text(client, text)
            elif msg.type is WSMsgType.PING:
                last_heard = loop.time()
                await ws.pong(msg.data)
            elif msg.type is WSMsgType.PONG:
                last_heard = loop.time()
            else:
                return

    def _listen_key_gone(self, client: Client) -> bool:
        """Close ``client`` if its listenKey ran out (``listenKeyExpired`` first) or was
        closed or replaced; whether it did."""
        memory = self._memory()
        now = self._engine().now_ms()
        key = client.listen_key
        if memory.listen_key_valid(key, now):
            return False
        if key == memory.listen_key:  # ran out, not deleted
            payload = orjson.dumps(pushes.listen_key_expired(key, now))
            client.out.send(client.frame(key, payload))
        self._private.discard(client)
        client.out.close()
        return True

    def _forget(self, client: Client) -> None:
        self.clients.discard(client)
        self._private.discard(client)
        if not self.clients:
            self._all_gone.set()
        for name in list(client.subscribed):
            self._remove(client, name)

    async def close_all(self) -> None:
        for client in list(self.clients):
            client.out.close()
        await self._all_gone.wait()

    def drop(self) -> int:
        """Cut every socket now, like a network drop; returns how many."""
        victims = list(self.clients)
        for client in victims:
            client.out.abort()
        return len(victims)

    # ------------------------------------------------------------------ subscriptions

    def _add(self, client: Client, name: str, stream: Stream | None) -> None:
        client.subscribed[name] = stream
        if stream is None:
            return
        self._streams[name] = stream
        self._listeners.setdefault(stream.symbol, {}).setdefault(name, set()).add(client)

    def _remove(self, client: Client, name: str) -> None:
        stream = client.subscribed.pop(name, None)
        if stream is None:
            if name == client.listen_key:
                self._private.discard(client)
                client.listen_key = ""
            return
        per_symbol = self._listeners.get(stream.symbol, {})
        listeners = per_symbol.get(name)
        if listeners is None:
            return
        listeners.discard(client)
        if not listeners:
            del per_symbol[name]
            self._streams.pop(name, None)
            self._depth_last.pop(name, None)
        if not per_symbol:
            self._listeners.pop(stream.symbol, None)

    def _add_user(self, client: Client, key: str) -> None:
        client.listen_key = key
        client.subscribed[key] = None
        self._private.add(client)

    def _on_text(self, client: Client, text: str) -> None:
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            client.out.send(_error(INVALID_JSON, f"Invalid JSON: {exc}", None))
            return
        if not isinstance(msg, dict):
            client.out.send(_error(INVALID_REQUEST, "Invalid request: expected an object", None))
            return
        request_id = msg.get("id")
        if not _valid_id(request_id):
            client.out.send(
                _error(
                    INVALID_REQUEST,
                    "Invalid request: request ID must be an unsigned integer",
                    None,
                )
            )
            return
        method = msg.get("method")
        params = msg.get("params", [])
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                client.out.send(
                    _error(INVALID_REQUEST, "Invalid request: params must be strings", request_id)
                )
                return
            answer = (
                self._subscribe(client, params, request_id)
                if method == "SUBSCRIBE"
                else self._unsubscribe(client, params, request_id)
            )
            client.out.send(answer)
        elif method == "LIST_SUBSCRIPTIONS":
            client.out.send(_reply(list(client.subscribed), request_id))
        elif method in ("SET_PROPERTY", "GET_PROPERTY"):
            client.out.send(self._property(client, method, params, request_id))
        else:
            client.out.send(
                _error(
                    INVALID_REQUEST,
                    f"Invalid request: unknown variant {method}, expected one of SUBSCRIBE, "
                    "UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY",
                    request_id,
                )
            )

    def _subscribe(self, client: Client, names: list[str], request_id: object) -> bytes:
        """All or nothing: a name this route does not serve refuses the whole request."""
        engine = self._engine()
        if client.route == "private":
            memory = self._memory()
            for name in names:
                stream = parse_stream(name, engine.symbols)
                if stream is not None:
                    return _error(INVALID_REQUEST, _wrong_route(stream, "private"), request_id)
                if not memory.listen_key_valid(name, engine.now_ms()):
                    return _error(INVALID_REQUEST, "Invalid request: unknown listenKey", request_id)
            for name in names:
                if name != client.listen_key:
                    if client.listen_key:
                        client.subscribed.pop(client.listen_key, None)
                    self._add_user(client, name)
            return _reply(None, request_id)
        parsed = [(name, parse_stream(name, engine.symbols)) for name in names]
        for _, stream in parsed:
            if stream is not None and stream.route != client.route:
                return _error(INVALID_REQUEST, _wrong_route(stream, client.route), request_id)
        for name, stream in parsed:
            if name not in client.subscribed:
                self._add(client, name, stream)
        return _reply(None, request_id)

    def _unsubscribe(self, client: Client, names: list[str], request_id: object) -> bytes:
        for name in names:
            self._remove(client, name)
        return _reply(None, request_id)

    @staticmethod
    def _property(client: Client, method: str, params: object, request_id: object) -> bytes:
        if not isinstance(params, list) or not params or params[0] != "combined":
            return _error(UNKNOWN_PROPERTY, "Unknown property", request_id)
        if method == "GET_PROPERTY":
            return _reply(client.combined, request_id)
        if len(params) != 2 or not isinstance(params[1], bool):
            return _error(INVALID_VALUE_TYPE, "Invalid value type: expected Boolean", request_id)
        client.combined = params[1]
        return _reply(None, request_id)

    # ------------------------------------------------------------------ market pushes

    def publish_market(self, update: PriceUpdate) -> None:
        """bookTicker, depth, aggTrade, markPrice and kline pushes for one price change."""
        streams = self._listeners.get(update.symbol)
        if not streams:
            return
        engine = self._engine()
        now = update.time
        for name, clients in list(streams.items()):
            stream = self._streams[name]
            payload = self._payload(engine, stream, update, now)
            if payload is not None:
                self._send(name, payload, clients)

    def publish_marks(self) -> None:
        """The periodic markPrice pushes: ``@markPrice@1s`` every call, ``@markPrice``
        every third (the server calls this every ``binance_mark_price_push_s``)."""
        self._mark_ticks += 1
        engine = self._engine()
        now = engine.now_ms()
        for streams in list(self._listeners.values()):
            for name, clients in list(streams.items()):
                stream = self._streams[name]
                if stream.kind != "markPrice" or self._mark_ticks % stream.every_s:
                    continue
                self._send(name, pushes.mark_price(engine, stream.symbol, now), clients)

    def _payload(
        self, engine: Engine, stream: Stream, update: PriceUpdate, now: int
    ) -> dict[str, object] | None:
        kind = stream.kind
        if kind == "aggTrade":
            return pushes.agg_trade(engine, update)
        if kind == "trade":
            return pushes.trade(engine, update)
        if kind == "bookTicker":
            return pushes.book_ticker(engine, stream.symbol, next(self._update_ids), now)
        if kind == "markPrice":
            return pushes.mark_price(engine, stream.symbol, now)
        if kind == "kline":
            return pushes.kline(engine, stream, now)
        update_id = next(self._update_ids)
        previous = self._depth_last.get(stream.name, 0)
        self._depth_last[stream.name] = update_id
        return pushes.partial_depth(engine, stream, update_id, previous, now)

    @staticmethod
    def _send(name: str, payload: dict[str, object], clients: Iterable[Client]) -> None:
        raw = orjson.dumps(payload)
        wrapped: bytes | None = None
        for client in list(clients):
            if client.combined:
                wrapped = wrapped or client.frame(name, raw)
                client.out.send(wrapped)
            else:
                client.out.send(raw)

    # ------------------------------------------------------------------ user data

    def publish_account(self, events: AccountEvents) -> None:
        """ALGO_UPDATE (new, triggering, triggered), ORDER_TRADE_UPDATE per order event,
        ACCOUNT_UPDATE when a position changed, then ALGO_UPDATE (finished, cancelled,
        expired). Called after every REST request and price move."""
        engine = self._engine()
        memory = self._memory()
        before, after = self._algo_changes(engine, memory)
        positions = self._changed_positions(engine, events.positions)
        for client in list(self._private):
            self._listen_key_gone(client)
        if not self._private:
            return
        frames: list[dict[str, object]] = [*before]
        frames += [pushes.order_trade_update(engine, memory, event) for event in events.orders]
        if positions:
            frames.append(pushes.account_update(engine, positions, events.balance, "ORDER"))
        frames += after
        for payload in frames:
            raw = orjson.dumps(payload)
            for client in list(self._private):
                client.out.send(client.frame(client.listen_key, raw))

    def _changed_positions(self, engine: Engine, positions: list[Position]) -> list[Position]:
        """The positions whose amount or entry moved (a resting close marks its position
        changed without changing it: Binance pushes nothing then); flat ones first, so a
        one-way flip ends on the new side."""
        changed = []
        for position in positions:
            key = (position.symbol, position.position_type)
            seen = (position.hold, position.entry_price)
            if self._positions_seen.get(key, (0, Decimal(0))) != seen:
                self._positions_seen[key] = seen
                changed.append(position)
        changed.sort(key=lambda p: p.hold > 0)
        return changed

    def _algo_changes(
        self, engine: Engine, memory: Memory
    ) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        """ALGO_UPDATEs for the algo orders whose status moved since the last call: the
        ones to push before this call's order events, and the ones after."""
        if memory is not self._algo_memory:
            self._algo_memory = memory
            self._algo_seen = {}
            self._algo_known = 0
        if len(memory.algos) > self._algo_known:
            for algo_id in itertools.islice(memory.algos, self._algo_known, None):
                self._algo_seen.setdefault(algo_id, "")
            self._algo_known = len(memory.algos)
        before: list[dict[str, object]] = []
        after: list[dict[str, object]] = []
        done = []
        for algo_id, last in self._algo_seen.items():
            algo = memory.algos[algo_id]
            status = algo_status(engine, algo)
            if status == last:
                continue
            if not last:
                before.append(pushes.algo_update(engine, algo, "NEW"))
            if status in ("TRIGGERED", "FINISHED") and last in ("", "NEW"):
                before.append(pushes.algo_update(engine, algo, "TRIGGERING"))
                before.append(pushes.algo_update(engine, algo, "TRIGGERED"))
            if status in TERMINAL_ALGO:
                after.append(pushes.algo_update(engine, algo, status))
                done.append(algo_id)
            self._algo_seen[algo_id] = status
        for algo_id in done:
            del self._algo_seen[algo_id]
        return before, after
