"""A minimal HTTP/1.1 client connection: one request at a time, written the moment it is asked.

Why not aiohttp here: an aiohttp request costs a few hundred microseconds of Python before
its bytes reach the socket, and on Python 3.11 the body is written by a task one event-loop
turn later. For the one request whose latency matters (the order a price just triggered),
:class:`Http1Connection` writes the finished request synchronously inside
:meth:`Http1Connection.send`, so the caller knows the bytes are on their way when it
returns. Everything else keeps using aiohttp.

The response side is a small incremental parser (:class:`ResponseParser`): status line,
headers, then a body framed by ``Content-Length``, by ``chunked`` transfer coding, or by the
end of the connection; interim ``1xx`` responses are skipped; ``gzip``/``deflate`` bodies are
decoded. Anything else is a :class:`ProtocolError`: the caller treats the outcome as unknown
(an order is then looked up by its client id, never sent blind a second time).
"""

from __future__ import annotations

import asyncio
import socket
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from multidict import CIMultiDict, CIMultiDictProxy

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024


class ProtocolError(Exception):
    """The peer's bytes are not an HTTP/1.1 response we can read."""


class ConnectionLost(ConnectionError):
    """The connection ended before the whole response arrived."""


@dataclass(frozen=True, slots=True)
class RawReply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    keep_alive: bool
    """Whether the connection may carry another request after this one."""


class ResponseParser:
    """Incremental parser of the responses to requests sent one at a time (not HEAD)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._head: tuple[int, CIMultiDict[str], bool] | None = None
        self._framing = ""  # "length", "chunked" or "close" once the head is read
        self._remaining = 0
        self._chunks = bytearray()
        self._chunk_state = "size"  # size -> data -> crlf -> size ... -> trailers

    @property
    def idle(self) -> bool:
        """No byte of a response has been received beyond the last complete one."""
        return self._head is None and not self._buffer

    def feed(self, data: bytes) -> RawReply | None:
        """Add bytes; return the response once complete (at most one: one request at a
        time, so bytes after a complete response are a protocol error)."""
        self._buffer += data
        while True:
            if self._head is None:
                if not self._read_head():
                    return None
                continue  # a 1xx head was skipped: read the next one
            reply = self._read_body()
            if reply is None:
                return None
            if self._buffer:
                raise ProtocolError("bytes after the end of the response")
            return reply

    def feed_eof(self) -> RawReply | None:
        """The peer closed: the response if its body ran to the close, else None when
        nothing was pending; raises ProtocolError for a response cut short."""
        if self._head is not None and self._framing == "close":
            return self._finish(bytes(self._buffer), keep_alive=False)
        if self.idle:
            return None
        raise ProtocolError("connection closed in the middle of a response")

    # -- head
    def _read_head(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD_BYTES:
                raise ProtocolError("response head too large")
            return False
        head = bytes(self._buffer[:end]).decode("latin-1")
        del self._buffer[: end + 4]
        status_line, *lines = head.split("\r\n")
        version, _, rest = status_line.partition(" ")
        status_text = rest.partition(" ")[0]
        if (
            version not in ("HTTP/1.1", "HTTP/1.0")
            or len(status_text) != 3
            or not status_text.isdigit()
        ):
            raise ProtocolError(f"bad status line {status_line[:80]!r}")
        status = int(status_text)
        headers: CIMultiDict[str] = CIMultiDict()
        for line in lines:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip() or line[0] in " \t":
                raise ProtocolError(f"bad header line {line[:80]!r}")
            headers.add(name, value.strip(" \t"))
        if 100 <= status < 200:
            return True  # interim response (100 Continue...): the real one follows
        connection = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
        keep_alive = (
            "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        )
        self._head = (status, headers, keep_alive)
        self._frame(status, headers)
        return True

    def _frame(self, status: int, headers: CIMultiDict[str]) -> None:
        codings = [
            t.strip().lower() for v in headers.getall("Transfer-Encoding", []) for t in v.split(",")
        ]
        lengths = set(headers.getall("Content-Length", []))
        if status in (204, 304):
            self._framing, self._remaining = "length", 0
        elif codings:
            if codings != ["chunked"]:
                raise ProtocolError(f"unsupported transfer coding {codings}")
            self._framing, self._chunk_state = "chunked", "size"
        elif lengths:
            if len(lengths) != 1 or not next(iter(lengths)).isdigit():
                raise ProtocolError(f"bad Content-Length {sorted(lengths)}")
            self._framing, self._remaining = "length", int(next(iter(lengths)))
            if self._remaining > MAX_BODY_BYTES:
                raise ProtocolError("response body too large")
        else:
            self._framing = "close"

    # -- body
    def _read_body(self) -> RawReply | None:
        if self._framing == "length":
            if len(self._buffer) < self._remaining:
                return None
            body = bytes(self._buffer[: self._remaining])
            del self._buffer[: self._remaining]
            return self._finish(body, keep_alive=None)
        if self._framing == "chunked":
            return self._read_chunks()
        if len(self._buffer) > MAX_BODY_BYTES:
            raise ProtocolError("response body too large")
        return None  # "close": the body ends with the connection (feed_eof)

    def _read_chunks(self) -> RawReply | None:
        buffer = self._buffer
        while True:
            if self._chunk_state == "size":
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > 1024:
                        raise ProtocolError("chunk size line too long")
                    return None
                size_text = bytes(buffer[:end]).split(b";", 1)[0].strip()
                del buffer[: end + 2]
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from None
                if size_text.startswith((b"-", b"+", b"0x", b"0X")):
                    raise ProtocolError(f"bad chunk size {size_text[:20]!r}")
                if len(self._chunks) + size > MAX_BODY_BYTES:
                    raise ProtocolError("response body too large")
                self._remaining = size
                self._chunk_state = "data" if size else "trailers"
            elif self._chunk_state == "data":
                if len(buffer) < self._remaining:
                    return None
                self._chunks += buffer[: self._remaining]
                del buffer[: self._remaining]
                self._chunk_state = "crlf"
            elif self._chunk_state == "crlf":
                if len(buffer) < 2:
                    return None
                if buffer[:2] != b"\r\n":
                    raise ProtocolError("chunk not followed by CRLF")
                del buffer[:2]
                self._chunk_state = "size"
            else:  # trailers: lines until an empty one
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > MAX_HEAD_BYTES:
                        raise ProtocolError("trailers too large")
                    return None
                del buffer[: end + 2]
                if end == 0:
                    body = bytes(self._chunks)
                    self._chunks = bytearray()
                    return self._finish(body, keep_alive=None)

    def _finish(self, body: bytes, *, keep_alive: bool | None) -> RawReply:
        assert self._head is not None
        status, headers, head_keep_alive = self._head
        self._head = None
        self._framing = ""
        encoding = headers.get("Content-Encoding", "identity").strip().lower()
        if encoding == "gzip":
            body = _inflate(body, 16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            try:
                body = _inflate(body, zlib.MAX_WBITS)
            except ProtocolError:
                body = _inflate(body, -zlib.MAX_WBITS)  # raw deflate, as some servers send
        elif encoding not in ("identity", ""):
            raise ProtocolError(f"unsupported content coding {encoding!r}")
        return RawReply(
            status=status,
            headers=CIMultiDictProxy(headers),
            body=body,
            keep_alive=head_keep_alive if keep_alive is None else keep_alive,
        )


def _inflate(body: bytes, wbits: int) -> bytes:
    try:
        inflater = zlib.decompressobj(wbits)
        data = inflater.decompress(body, MAX_BODY_BYTES) + inflater.flush()
    except zlib.error as exc:
        raise ProtocolError(f"body does not decompress: {exc}") from exc
    if inflater.unconsumed_tail:
        raise ProtocolError("decompressed body too large")
    return data


class Http1Connection(asyncio.Protocol):
    """One keep-alive client connection; :meth:`send` writes at once and returns the
    future of the response. ``on_ready`` is called when it can take a request (open, or
    done with the previous one); ``on_closed`` once, when it is gone."""

    def __init__(
        self,
        on_ready: Callable[[Http1Connection], None],
        on_closed: Callable[[Http1Connection], None],
    ) -> None:
        self._on_ready = on_ready
        self._on_closed = on_closed
        self._transport: asyncio.Transport | None = None
        self._parser = ResponseParser()
        self._pending: asyncio.Future[RawReply] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self.idle_since = 0.0
        """Loop time at which the connection last became free."""

    @property
    def ready(self) -> bool:
        return self._transport is not None and not self._closed and self._pending is None

    @property
    def closed(self) -> bool:
        return self._closed

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but they are ones.
        self._transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._became_ready()

    def data_received(self, data: bytes) -> None:
        if self._pending is None:
            self._fail(ProtocolError("bytes received with no request pending"))
            return
        try:
            reply = self._parser.feed(data)
        except ProtocolError as exc:
            self._fail(exc)
            return
        if reply is not None:
            self._resolve(reply)

    def eof_received(self) -> bool:
        try:
            reply = self._parser.feed_eof()
        except ProtocolError as exc:
            self._fail(exc)
            return False
        if reply is not None and self._pending is not None:
            self._resolve(reply)
        self._fail(ConnectionLost("connection closed by the server"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._fail(ConnectionLost(f"connection lost: {exc!r}" if exc else "connection closed"))

    # -- requests
    def send(self, data: bytes, timeout_s: float) -> asyncio.Future[RawReply]:
        """Write one whole request now; the future gets its response, or ConnectionLost,
        ProtocolError or TimeoutError (after which the connection is closed)."""
        if not self.ready:
            raise RuntimeError("connection not ready for a request")
        assert self._transport is not None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[RawReply] = loop.create_future()
        future.add_done_callback(self._abandoned)
        self._pending = future
        self._transport.write(data)
        self._timer = loop.call_later(timeout_s, self._timed_out)
        return future

    def close(self) -> None:
        """Close now (a pending request fails with ConnectionLost)."""
        if self._transport is not None:
            self._transport.close()
        self._fail(ConnectionLost("connection closed by us"))

    # -- internals
    def _resolve(self, reply: RawReply) -> None:
        future = self._take_pending()
        if future is not None and not future.done():
            future.set_result(reply)
        if reply.keep_alive:
            self._became_ready()
        else:
            self.close()

    def _timed_out(self) -> None:
        self._timer = None
        future = self._pending
        if future is not None and not future.done():
            future.set_exception(TimeoutError("no complete response in time"))
        self.close()  # a late response must never be read as the next request's

    def _abandoned(self, future: asyncio.Future[RawReply]) -> None:
        if future.cancelled() and future is self._pending:
            self.close()  # its response may still come: this connection is unusable

    def _fail(self, exc: Exception) -> None:
        future = self._take_pending()
        if future is not None and not future.done():
            future.set_exception(exc)
        if not self._closed:
            self._closed = True
            if self._transport is not None:
                self._transport.abort()
            self._on_closed(self)

    def _take_pending(self) -> asyncio.Future[RawReply] | None:
        future, self._pending = self._pending, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return future

    def _became_ready(self) -> None:
        if not self._closed:
            self.idle_since = asyncio.get_running_loop().time()
            self._on_ready(self)
