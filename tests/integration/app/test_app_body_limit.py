"""The app refuses an oversized request body with 413 before reading it: a declared
``Content-Length`` over the limit is answered while the client has sent only headers; a
chunked body is cut as soon as it passes the limit; a body at the limit is read; and a
50 MB upload leaves the app's memory where it was."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from app_harness import AppStarter, free_port, sqlite_url

LIMIT = 4096


async def raw_exchange(url: str, head: bytes, first: bytes = b"") -> tuple[int, dict[str, Any]]:
    """Send ``head`` (and ``first`` body bytes) but never the rest of the body; read the
    answer, which must come anyway."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head + first)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)  # until the app closes
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    _headers, _, body = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), orjson.loads(body)


def post_head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: test", "Content-Type: application/json", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def assert_names_body(status: int, body: dict[str, Any]) -> None:
    assert status == 413, body
    assert body["ok"] is False and body["status"] == "error"
    assert body["fields"][0]["field"] == "body", body
    assert body["error"].startswith("body: "), body


async def test_a_declared_length_over_the_limit_is_refused_before_any_byte_is_sent(
    start_app: AppStarter, tmp_path: Path
) -> None:
    app = await start_app(sqlite_url(tmp_path))  # the default limit: 1 MiB
    head = post_head("/api/signals", f"Content-Length: {200 * 1024 * 1024}")
    status, body = await raw_exchange(app.server.url, head)
    assert_names_body(status, body)
    assert "209715200 bytes declared" in body["error"]
    assert str(1024 * 1024) in body["error"]


async def test_a_chunked_body_is_cut_at_the_limit_while_it_streams(
    start_app: AppStarter, tmp_path: Path
) -> None:
    app = await start_app(sqlite_url(tmp_path), max_body_bytes=LIMIT)
    head = post_head("/api/signals", "Transfer-Encoding: chunked")
    # One chunk past the limit and no end of body: the answer comes all the same.
    status, body = await raw_exchange(app.server.url, head, chunk(b" " * (LIMIT + 1)))
    assert_names_body(status, body)
    # Small chunks add up the same way.
    status, body = await raw_exchange(app.server.url, head, chunk(b" " * 1000) * 5)
    assert_names_body(status, body)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_a_body_at_the_limit_is_read_and_one_byte_more_is_not(
    start_app: AppStarter, tmp_path: Path, framing: str
) -> None:
    app = await start_app(sqlite_url(tmp_path), max_body_bytes=LIMIT)
    at_limit = b"[" + b" " * (LIMIT - 2) + b"]"  # JSON, but not an object: a 400 from the route
    for data, expected in ((at_limit, 400), (at_limit + b" ", 413)):
        if framing == "chunked":
            head = post_head("/api/signals", "Transfer-Encoding: chunked", "Connection: close")
            sent = chunk(data) + b"0\r\n\r\n"
        else:
            head = post_head("/api/signals", f"Content-Length: {len(data)}", "Connection: close")
            sent = data
        status, body = await raw_exchange(app.server.url, head, sent)
        assert status == expected, body
        assert body["fields"][0]["field"] == "body", body


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def upload(port: int, head: bytes, total: int, piece: bytes) -> tuple[int, int | None]:
    """Try to send ``total`` bytes after ``head``; returns (bytes sent, status or None)."""
    import socket

    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(head)
            while sent < total:
                sock.sendall(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the app answered and closed: the rest is never read
        try:
            answer = sock.recv(200)
        except ConnectionResetError:
            return sent, None
    return sent, int(answer.split()[1]) if answer.startswith(b"HTTP/") else None


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_a_50_mb_upload_leaves_the_app_memory_flat(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url(tmp_path),
        "ZONEGUARD_VAR_DIR": str(tmp_path / "var"),
        "WS_WORKER_BASE_URL": f"http://127.0.0.1:{free_port()}",
    }
    env.pop("ZONEGUARD_APP_MAX_BODY_BYTES", None)  # the default, 1 MiB
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoneguard.app", "app", "--port", str(port), "--no-consume"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("the app did not start") from None
                time.sleep(0.05)
        before = peak_rss_kib(proc.pid)
        total, piece = 50 * 1024 * 1024, b"x" * 65536
        declared = post_head("/api/signals", f"Content-Length: {total}")
        sent, status = upload(port, declared, total, piece)
        assert status in (413, None) and sent < total, (sent, status)
        chunked = post_head("/api/signals", "Transfer-Encoding: chunked")
        sent, status = upload(port, chunked, total, chunk(piece))
        assert status in (413, None) and sent < total, (sent, status)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as reply:
            assert reply.status == 200
        grown_kib = peak_rss_kib(proc.pid) - before
        assert grown_kib < 8 * 1024, f"the app's peak memory grew by {grown_kib} KiB"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
