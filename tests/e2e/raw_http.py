"""HTTP/1.1 by hand over a blocking socket, for the tests of the request-size door: they must
control what the client has sent when the server answers (headers only, a first chunk), which
no HTTP client library lets a test do. Blocking on purpose: run them in a thread
(``asyncio.to_thread``) so the event loop under test never waits on the client."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

import orjson

CHUNK = 64 * 1024


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    closed_after: bool | None
    """Whether the server closed the connection after this response (None: not looked at)."""

    def json(self) -> object:
        return orjson.loads(self.body)


@dataclass
class Upload:
    """How far a client got sending a body the server may cut."""

    sent: int = 0
    error: str | None = None
    response: RawResponse | None = None
    notes: list[str] = field(default_factory=list)


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunk(data: bytes) -> bytes:
    """One chunk of a ``Transfer-Encoding: chunked`` body (``b""`` ends the body)."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def read_response(sock: socket.socket, *, check_close: bool = True) -> RawResponse:
    """Read one response (``Content-Length`` framed), then (``check_close``) wait to see
    whether the server closes the connection."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(CHUNK)
        if not data:
            raise ConnectionError(f"closed before a response: {buffer[:200]!r}")
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        data = sock.recv(CHUNK)
        if not data:
            break
        rest += data
    closed = _closes(sock) if check_close else None
    return RawResponse(int(status_line.split()[1]), headers, rest[:length], closed)


def _closes(sock: socket.socket, wait_s: float = 5.0) -> bool:
    """Whether the peer closes the connection (EOF or reset) within ``wait_s``."""
    sock.settimeout(wait_s)
    try:
        return sock.recv(CHUNK) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def send_body(sock: socket.socket, total: int, *, chunked: bool, upload: Upload) -> None:
    """Send ``total`` bytes of body (spaces: valid JSON padding) until done or cut off."""
    piece = b" " * CHUNK
    try:
        while upload.sent < total:
            data = piece[: min(CHUNK, total - upload.sent)]
            sock.sendall(chunk(data) if chunked else data)
            upload.sent += len(data)
        if chunked:
            sock.sendall(chunk(b""))
    except OSError as exc:  # the server closed the connection on us: what we want
        upload.error = type(exc).__name__
