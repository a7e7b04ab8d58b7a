"""The order lane: a few warm HTTP/1.1 connections to the REST host for time-critical POSTs.

A request asked of :meth:`OrderLane.try_post` is written to a connection that is already
open (TCP and TLS done) before the call returns; when none is free it returns None and the
caller uses the ordinary aiohttp session. A background task keeps the pool topped up and
replaces connections that closed, failed or idled past ``max_idle_s`` (servers drop idle
keep-alive connections; one dropped as we write would cost the order a lookup and a
resend), so the triggering price never pays a handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Mapping

from yarl import URL

from zoneguard.exchange.bitmart.http1 import Http1Connection, RawReply

log = logging.getLogger(__name__)

DEFAULT_MAX_IDLE_S = 15.0
KEEPER_PERIOD_S = 1.0
RECONNECT_MAX_S = 5.0


class OrderLane:
    def __init__(
        self,
        base_url: str,
        *,
        size: int = 2,
        user_agent: str,
        max_idle_s: float = DEFAULT_MAX_IDLE_S,
        connect_timeout_s: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("an order lane needs at least one connection")
        url = URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        if url.path not in ("", "/"):
            raise ValueError(f"the lane's URL must be a bare host, got {base_url!r}")
        self._host = url.host
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._ssl: ssl.SSLContext | None = None
        if url.scheme == "https":
            self._ssl = ssl_context or ssl.create_default_context()
        default_port = url.port is None or url.is_default_port()
        host_header = self._host if default_port else f"{self._host}:{self._port}"
        self._fixed_head = _header_block({"Host": host_header, "User-Agent": user_agent})
        self._size = size
        self._max_idle_s = max_idle_s
        self._connect_timeout_s = connect_timeout_s
        self._ready: list[Http1Connection] = []
        self._open: set[Http1Connection] = set()
        self._wake = asyncio.Event()
        self._keeper: asyncio.Task[None] | None = None
        self._closing = False
        self.sent = 0
        """Requests written through the lane (the others went through aiohttp)."""

    def __repr__(self) -> str:
        return f"OrderLane({self._host}:{self._port}, ready={len(self._ready)}/{self._size})"

    @property
    def ready_connections(self) -> int:
        return sum(1 for conn in self._ready if conn.ready)

    def start(self) -> None:
        """Start keeping ``size`` connections open (idempotent; needs a running loop)."""
        if self._keeper is None or self._keeper.done():
            self._closing = False
            self._keeper = asyncio.get_running_loop().create_task(
                self._keep(), name=f"order-lane-{self._host}"
            )

    async def wait_ready(self, timeout_s: float) -> bool:
        """True once a connection is ready (for tests and warm starts), False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.ready_connections == 0:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    async def close(self) -> None:
        self._closing = True
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
            self._keeper = None
        for conn in list(self._open):
            conn.close()
        self._ready.clear()

    def try_post(
        self, path: str, headers: Mapping[str, str], body: bytes, timeout_s: float
    ) -> asyncio.Future[RawReply] | None:
        """Write ``POST path`` now on a free warm connection and return the future of its
        reply; None (nothing written) when no connection is free."""
        if not path.startswith("/") or any(c in path for c in " \r\n\0"):
            raise ValueError(f"bad request path {path!r}")
        request = (  # built (and checked) before a connection is taken
            f"POST {path} HTTP/1.1\r\n".encode()
            + self._fixed_head
            + _header_block({**headers, "Content-Length": str(len(body))})
            + b"\r\n"
            + body
        )
        while self._ready:
            conn = self._ready.pop()  # the most recently used: the least likely to be stale
            if conn.ready:
                future = conn.send(request, timeout_s)
                self.sent += 1
                self._wake.set()  # one fewer free connection: the keeper may add one
                return future
        self._wake.set()
        return None

    # -- pool upkeep
    def _on_ready(self, conn: Http1Connection) -> None:
        if self._closing:
            conn.close()
        elif conn not in self._ready:
            self._ready.append(conn)

    def _on_closed(self, conn: Http1Connection) -> None:
        self._open.discard(conn)
        with contextlib.suppress(ValueError):
            self._ready.remove(conn)
        self._wake.set()

    async def _keep(self) -> None:
        failures = 0
        while not self._closing:
            self._retire_stale()
            self._trim_spares()
            busy = len(self._open) - self.ready_connections
            # Keep ``size`` free connections, plus one per request in flight (up to double).
            wanted = min(self._size + busy, 2 * self._size)
            while len(self._open) < wanted and not self._closing:
                if await self._connect():
                    failures = 0
                else:
                    failures += 1
                    await asyncio.sleep(min(RECONNECT_MAX_S, 0.1 * 2 ** min(failures, 6)))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), KEEPER_PERIOD_S)

    def _trim_spares(self) -> None:
        """Back to ``size`` free connections after a burst opened more (oldest go first)."""
        spare = self.ready_connections - self._size
        for conn in list(self._ready):
            if spare <= 0:
                break
            if conn.ready:
                self._ready.remove(conn)
                conn.close()
                spare -= 1

    def _retire_stale(self) -> None:
        now = asyncio.get_running_loop().time()
        for conn in list(self._ready):
            if conn.ready and now - conn.idle_since > self._max_idle_s:
                self._ready.remove(conn)
                conn.close()

    async def _connect(self) -> bool:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                _, conn = await loop.create_connection(
                    lambda: Http1Connection(self._on_ready, self._on_closed),
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl is not None else None,
                )
        except (OSError, TimeoutError) as exc:
            log.warning("order lane: connect to %s:%s failed: %r", self._host, self._port, exc)
            return False
        except Exception:  # the keeper must outlive surprises: orders fall back meanwhile
            log.exception("order lane: connect to %s:%s failed", self._host, self._port)
            return False
        if self._closing:
            conn.close()
            return False
        if not conn.closed:
            self._open.add(conn)
        return True


_BAD_NAME = re.compile(r"[:\s\0]")
_BAD_VALUE = re.compile(r"[\r\n\0]")


def _header_block(headers: Mapping[str, str]) -> bytes:
    """``Name: value`` lines; a name with a colon, blank or NUL, or a value with a CR, LF
    or NUL, is refused (no header or request can be smuggled in)."""
    lines = []
    for name, value in headers.items():
        if not name or _BAD_NAME.search(name) or _BAD_VALUE.search(value):
            raise ValueError(f"header {name!r} cannot be sent")
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("latin-1")
