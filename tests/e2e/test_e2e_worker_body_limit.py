"""The request-size door of the worker's control API: a body above the limit is refused with
413 before it is read (declared: at once; chunked: cut at the limit), the server closes the
connection rather than reading the rest, and a body exactly at the limit still works."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from e2e_harness import SEED_ORDER, Stack
from raw_http import RawResponse, Upload, chunk, connect, read_response, request_head, send_body

from zoneguard.worker.config import DEFAULT_MAX_BODY_BYTES

LIMIT = DEFAULT_MAX_BODY_BYTES
JSON = {"Content-Type": "application/json"}


def assert_too_large(answer: RawResponse, limit: int) -> None:
    """A 413 in the error shape, naming ``body`` once and saying the limit."""
    assert answer.status == 413, answer
    body = answer.json()
    (problem,) = body["fields"]
    assert problem["field"] == "body", body
    assert f"at most {limit} bytes" in problem["message"], body
    assert body == {"ok": False, "error": f"body: {problem['message']}", "fields": [problem]}


def padded_order(size: int, order_id: str) -> bytes:
    """The seed's order as JSON, padded with spaces to exactly ``size`` bytes."""
    body = orjson.dumps({**SEED_ORDER, "id": order_id})
    assert len(body) <= size
    return body + b" " * (size - len(body))


def worker_port(stack: Stack) -> int:
    assert stack.worker is not None
    return stack.worker.port


def headers_only(port: int, head: dict[str, str]) -> RawResponse:
    """Send a request's headers, no body byte, and read the answer."""
    with connect(port) as sock:
        sock.sendall(request_head("POST", "/api/place-order", head))
        return read_response(sock)


async def nothing_accepted(stack: Stack, client: Any) -> None:
    _status, body = await client.get("/api/orders/status")
    assert body["counts"] == {"waiting": 0, "active": 0, "monitored": 0}, body
    assert stack.receiver.bodies == []


async def test_a_declared_oversized_body_is_refused_before_a_byte_of_it_is_sent(
    stack: Stack,
) -> None:
    client = await stack.start()
    port = worker_port(stack)
    declared = {**JSON, "Content-Length": str(50 * 1024 * 1024)}
    answer = await asyncio.to_thread(headers_only, port, declared)
    assert_too_large(answer, LIMIT)
    assert answer.closed_after, "the connection must be closed, not kept to drain the body"
    # A client that waits for "100 Continue" before sending gets the 413 instead.
    answer = await asyncio.to_thread(headers_only, port, {**declared, "Expect": "100-continue"})
    assert answer.status == 413, answer
    await nothing_accepted(stack, client)


def first_chunk_then_wait(port: int, size: int) -> RawResponse:
    """A chunked body: one chunk of ``size`` bytes, not ended, then read the answer."""
    with connect(port) as sock:
        head = request_head("POST", "/api/place-order", {**JSON, "Transfer-Encoding": "chunked"})
        sock.sendall(head + chunk(b" " * size))
        return read_response(sock)


async def test_a_chunked_body_is_cut_at_the_limit_while_it_is_still_coming(stack: Stack) -> None:
    client = await stack.start()
    answer = await asyncio.to_thread(first_chunk_then_wait, worker_port(stack), LIMIT + 1)
    assert_too_large(answer, LIMIT)
    assert answer.closed_after
    await nothing_accepted(stack, client)


def upload(port: int, total: int, *, chunked: bool) -> Upload:
    sent = Upload()
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(total)}
    with connect(port) as sock:
        sock.sendall(request_head("POST", "/api/place-order", {**JSON, **framing}))
        send_body(sock, total, chunked=chunked, upload=sent)
    return sent


async def test_the_rest_of_a_50_mb_body_is_not_read_the_connection_is_closed(
    stack: Stack,
) -> None:
    await stack.start()
    total = 50 * 1024 * 1024
    for chunked in (False, True):
        sent = await asyncio.to_thread(upload, worker_port(stack), total, chunked=chunked)
        assert sent.error is not None, f"the server read all {total} bytes (chunked={chunked})"
        assert sent.sent < total // 2, sent


def send_whole(port: int, body: bytes, *, chunked: bool) -> RawResponse:
    with connect(port) as sock:
        if chunked:
            head = request_head(
                "POST", "/api/place-order", {**JSON, "Transfer-Encoding": "chunked"}
            )
            pieces = [chunk(body[i : i + 1000]) for i in range(0, len(body), 1000)]
            sock.sendall(head + b"".join(pieces) + chunk(b""))
        else:
            head = request_head(
                "POST", "/api/place-order", {**JSON, "Content-Length": str(len(body))}
            )
            sock.sendall(head + body)
        return read_response(sock, check_close=False)


async def test_a_body_at_the_limit_is_taken_one_byte_more_is_not(stack: Stack) -> None:
    client = await stack.start()
    port = worker_port(stack)
    for chunked, side in ((False, "long"), (True, "short")):
        order_id = f"at-limit-{side}"
        order = {**SEED_ORDER, "id": order_id, "side": side}
        if side == "short":
            order.update(stop_loss=67000, take_profit=60000)
        body = orjson.dumps(order)
        at_limit = body + b" " * (LIMIT - len(body))
        answer = await asyncio.to_thread(send_whole, port, at_limit + b" ", chunked=chunked)
        assert answer.status == 413, (chunked, answer)
        answer = await asyncio.to_thread(send_whole, port, at_limit, chunked=chunked)
        assert answer.status == 200, (chunked, answer)
        assert answer.json()["order_id"] == order_id  # type: ignore[index]
    _status, body = await client.get("/api/orders/status")
    assert body["counts"]["waiting"] == 2, body


async def test_the_limit_is_configurable(stack: Stack) -> None:
    client = await stack.start(max_body_bytes=2048)
    port = worker_port(stack)
    answer = await asyncio.to_thread(send_whole, port, padded_order(2049, "big"), chunked=False)
    assert_too_large(answer, 2048)
    answer = await asyncio.to_thread(send_whole, port, padded_order(2048, "fits"), chunked=False)
    assert answer.status == 200, answer
    status, _body = await client.get("/api/orders/fits")
    assert status == 200
