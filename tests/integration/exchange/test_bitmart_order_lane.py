"""The order lane over real loopback sockets: requests leave before ``try_post`` returns,
warm connections are reused, replaced when dropped, retired when idle, abandoned on a
timeout; and through the BitMart adapter against the simulator, the same outcomes and
error types as the aiohttp path.

The lane's peer here is a blocking server in its own thread: it reads the socket whatever
the event loop is doing, so a test can see a request arrive while the loop's thread is
still inside the call that sent it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
import uvloop

from zoneguard.domain.market import OrderType, TimeInForce
from zoneguard.domain.values import MarginMode, Side
from zoneguard.exchange.bitmart import BitMartExchange, BitMartSettings
from zoneguard.exchange.bitmart.http1 import ConnectionLost
from zoneguard.exchange.bitmart.lane import OrderLane
from zoneguard.exchange.errors import (
    DuplicateClientOrderId,
    PostOnlyWouldCross,
    UnknownOutcome,
)
from zoneguard.exchange.port import OrderRequest
from zoneguard.sim import SimConfig, SimServer

OK = b'{"code":1000,"message":"Ok","data":{"order_id":7,"price":"1"}}'


def http_reply(body: bytes = OK, extra: bytes = b"") -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + extra
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


@dataclass
class Seen:
    connection: int
    head: bytes
    body: bytes


@dataclass
class ThreadedServer:
    """Blocking HTTP/1.1 peer: one thread per connection; ``answer`` decides each reply
    (bytes to send, or None to hang up without one); ``stall`` holds replies back."""

    answer: Callable[[Seen], bytes | None] = lambda seen: http_reply()
    seen: list[Seen] = field(default_factory=list)
    accepted: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    stall: threading.Event = field(default_factory=threading.Event)
    _sock: socket.socket = field(default_factory=socket.socket)
    _conns: list[socket.socket] = field(default_factory=list)
    _stop: bool = False

    def __post_init__(self) -> None:
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.stall.set()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def close(self) -> None:
        self._stop = True
        for conn in [self._sock, *self._conns]:
            with contextlib.suppress(OSError):
                conn.close()

    def drop_all(self) -> None:
        """Close every accepted connection, as a server dropping idle keep-alives does."""
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn, self.accepted), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        buffer = b""
        with contextlib.suppress(OSError):
            while not self._stop:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, rest = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(rest) < length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    rest += data
                seen = Seen(number, head, rest[:length])
                buffer = rest[length:]
                self.seen.append(seen)
                self.arrived.set()
                self.stall.wait(10)
                reply = self.answer(seen)
                if reply is None:
                    conn.close()
                    return
                conn.sendall(reply)


@pytest.fixture
def server() -> Iterator[ThreadedServer]:
    peer = ThreadedServer()
    yield peer
    peer.close()


@pytest.fixture
async def lane(server: ThreadedServer) -> AsyncIterator[OrderLane]:
    opened = OrderLane(server.url, size=1, user_agent="lane-test/1")
    opened.start()
    assert await opened.wait_ready(5)
    yield opened
    await opened.close()


async def eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


HEADERS = {"X-BM-KEY": "key", "Content-Type": "application/json"}


async def test_the_request_is_on_the_wire_before_try_post_returns(
    server: ThreadedServer, lane: OrderLane
) -> None:
    reply = lane.try_post("/contract/private/submit-order", HEADERS, b'{"a":1}', 5.0)
    assert reply is not None
    # No await since try_post: the event loop has not run, yet the peer has the request.
    assert server.arrived.wait(5), "the request did not leave during try_post"
    seen = server.seen[0]
    assert seen.head.startswith(b"POST /contract/private/submit-order HTTP/1.1\r\n")
    head_lines = seen.head.split(b"\r\n")
    assert f"Host: 127.0.0.1:{server.url.rsplit(':', 1)[1]}".encode() in head_lines
    assert b"User-Agent: lane-test/1" in head_lines
    assert b"X-BM-KEY: key" in head_lines
    assert b"Content-Length: 7" in head_lines
    assert seen.body == b'{"a":1}'
    answer = await reply
    assert (answer.status, answer.body, answer.keep_alive) == (200, OK, True)
    assert lane.sent == 1


async def test_a_warm_connection_is_reused_and_a_busy_lane_declines(
    server: ThreadedServer, lane: OrderLane
) -> None:
    for _ in range(3):
        reply = lane.try_post("/x", HEADERS, b"{}", 5.0)
        assert reply is not None
        assert (await reply).status == 200
        await eventually(lambda: lane.ready_connections >= 1)
    assert {seen.connection for seen in server.seen} == {1}  # one connection, three requests
    server.stall.clear()  # replies are held back: every connection used stays busy
    held = []
    while (reply := lane.try_post("/x", HEADERS, b"{}", 5.0)) is not None:
        held.append(reply)  # no await in between: only connections already open serve
        assert len(held) <= 2, "a lane of one keeps at most one spare after a burst"
    assert held, "the warm connection took the request"
    assert lane.try_post("/x", HEADERS, b"{}", 5.0) is None  # all busy: the caller uses aiohttp
    server.stall.set()
    assert [(await reply).status for reply in held] == [200] * len(held)
    assert len(server.seen) == 3 + len(held)


async def test_a_connection_the_server_drops_is_replaced(
    server: ThreadedServer, lane: OrderLane
) -> None:
    dropped = server.accepted
    server.drop_all()
    await eventually(lambda: server.accepted > dropped and lane.ready_connections >= 1)
    reply = lane.try_post("/x", HEADERS, b"{}", 5.0)
    assert reply is not None
    assert (await reply).status == 200
    assert server.seen[-1].connection > dropped


async def test_a_reply_cut_short_fails_as_connection_lost(
    server: ThreadedServer, lane: OrderLane
) -> None:
    server.answer = lambda seen: None  # read the request, hang up without a reply
    reply = lane.try_post("/x", HEADERS, b"{}", 5.0)
    assert reply is not None
    with pytest.raises(ConnectionLost):
        await reply
    await eventually(lambda: server.accepted >= 2 and lane.ready_connections >= 1)


async def test_a_reply_that_never_comes_times_out_and_its_connection_is_dropped(
    server: ThreadedServer, lane: OrderLane
) -> None:
    server.stall.clear()
    reply = lane.try_post("/x", HEADERS, b"{}", 0.2)
    assert reply is not None
    with pytest.raises(TimeoutError):
        await reply
    server.stall.set()  # the late reply goes to a closed connection, never to a new request
    await eventually(lambda: server.accepted >= 2 and lane.ready_connections >= 1)
    fresh = lane.try_post("/x", HEADERS, b"{}", 5.0)
    assert fresh is not None
    assert (await fresh).status == 200
    assert server.seen[-1].connection != server.seen[0].connection


async def test_an_idle_connection_is_retired_before_a_server_would_drop_it(
    server: ThreadedServer,
) -> None:
    lane = OrderLane(server.url, size=1, user_agent="t", max_idle_s=0.3)
    lane.start()
    try:
        assert await lane.wait_ready(5)
        await eventually(lambda: server.accepted >= 2, timeout_s=5)
        assert lane.ready_connections == 1 or await lane.wait_ready(5)
    finally:
        await lane.close()


async def test_headers_that_could_inject_are_refused_and_nothing_is_sent(
    server: ThreadedServer, lane: OrderLane
) -> None:
    for headers in ({"X-Evil": "a\r\nX-Injected: 1"}, {"Bad Name": "v"}, {"X:": "v"}):
        with pytest.raises(ValueError, match="cannot be sent"):
            lane.try_post("/x", headers, b"{}", 5.0)
    with pytest.raises(ValueError, match="bad request path"):
        lane.try_post("/x HTTP/1.1\r\nHost: evil", {}, b"{}", 5.0)
    assert lane.ready_connections == 1
    assert not server.arrived.wait(0.2)


def test_the_lane_works_on_uvloop(server: ThreadedServer) -> None:
    """The worker runs on uvloop, whose transports are not asyncio classes."""

    async def scenario() -> int:
        lane = OrderLane(server.url, size=1, user_agent="t")
        lane.start()
        try:
            assert await lane.wait_ready(5)
            reply = lane.try_post("/x", HEADERS, b"{}", 5.0)
            assert reply is not None
            return (await reply).status
        finally:
            await lane.close()

    assert uvloop.run(scenario()) == 200


def test_a_lane_needs_a_bare_http_url() -> None:
    for url in ("ftp://127.0.0.1", "http://127.0.0.1/api", "127.0.0.1:80"):
        with pytest.raises(ValueError, match="URL"):
            OrderLane(url, user_agent="t")


# -- through the adapter, against the simulator -------------------------------------------

KEY, SECRET, MEMO = "lane-key", "lane-secret-0123456789", "lane-memo"
SYMBOL = "BTCUSDT"


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    config = SimConfig(
        port=0,
        api_key=KEY,
        api_secret=SECRET,
        api_memo=MEMO,
        prices={SYMBOL: Decimal("65000")},
        post_only_cross="reject",
    )
    async with SimServer(config) as server:
        yield server


def settings_for(sim: SimServer, connections: int = 1) -> BitMartSettings:
    return BitMartSettings(
        api_key=KEY,
        api_secret=SECRET,
        api_memo=MEMO,
        rest_url=sim.base_url,
        ws_public_url=sim.ws_public_url,
        ws_private_url=sim.ws_private_url,
        rest_timeout_s=2.0,
        order_connections=connections,
    )


@pytest.fixture
async def exchange(sim: SimServer) -> AsyncIterator[BitMartExchange]:
    client = BitMartExchange(settings_for(sim))
    await client.start()
    await eventually(lambda: _lane_ready(client))
    yield client
    await client.close()


def _lane_ready(client: BitMartExchange) -> bool:
    lane = client._lane
    return lane is not None and lane.ready_connections > 0


def entry(price: str, cid: str) -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL,
        position_side=Side.LONG,
        reduce_only=False,
        order_type=OrderType.LIMIT,
        contracts=Decimal(10),
        price=Decimal(price),
        time_in_force=TimeInForce.POST_ONLY,
        leverage=Decimal(10),
        margin_mode=MarginMode.ISOLATED,
        client_order_id=cid,
        preset_stop_loss=Decimal("60000"),
    )


async def test_place_order_now_is_signed_accepted_and_found_by_client_id(
    exchange: BitMartExchange,
) -> None:
    sent = exchange.place_order_now(entry("64000", "zglane1"))
    assert sent is not None
    placed = await sent
    found = await exchange.find_order(SYMBOL, "zglane1")
    assert found is not None and found.order_id == placed.order_id
    assert found.price == Decimal("64000") and found.preset_stop_loss == Decimal("60000")


async def test_refusals_on_the_lane_keep_their_types(exchange: BitMartExchange) -> None:
    first = exchange.place_order_now(entry("64000", "zglane2"))
    assert first is not None
    await first
    await eventually(lambda: _lane_ready(exchange))
    again = exchange.place_order_now(entry("64000", "zglane2"))
    assert again is not None
    with pytest.raises(DuplicateClientOrderId):
        await again
    await eventually(lambda: _lane_ready(exchange))
    crossing = exchange.place_order_now(entry("66000", "zglane3"))  # above the ask
    assert crossing is not None
    with pytest.raises(PostOnlyWouldCross):
        await crossing


async def test_a_reply_dropped_on_the_lane_is_an_unknown_outcome(
    sim: SimServer, exchange: BitMartExchange
) -> None:
    sim.state.faults.apply({"order_response": {"count": 1, "mode": "drop"}})
    sent = exchange.place_order_now(entry("64000", "zglane4"))
    assert sent is not None
    with pytest.raises(UnknownOutcome):
        await sent
    assert await exchange.find_order(SYMBOL, "zglane4") is not None  # it was executed


async def test_a_rate_limit_pause_sends_nothing_on_the_lane(exchange: BitMartExchange) -> None:
    exchange.rest.gate.block("/contract/private/submit-order", 0.3)
    assert exchange.place_order_now(entry("64000", "zglane5")) is None
    assert await exchange.find_order(SYMBOL, "zglane5") is None
    placed = await exchange.place_order(entry("64000", "zglane5"))  # waits, then sends
    assert placed.order_id


async def test_without_order_connections_orders_go_through_aiohttp(sim: SimServer) -> None:
    client = BitMartExchange(settings_for(sim, connections=0))
    await client.start()
    try:
        assert client.place_order_now(entry("64000", "zglane6")) is None
        assert (await client.place_order(entry("64000", "zglane6"))).order_id
    finally:
        await client.close()
