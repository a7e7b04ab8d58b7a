"""The order lane's HTTP/1.1 response parser: framings, interim replies, refusals, and any
split of the bytes into packets giving the same response."""

from __future__ import annotations

import gzip
import itertools
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zoneguard.exchange.bitmart.http1 import ProtocolError, RawReply, ResponseParser

BODY = b'{"code":1000,"message":"Ok","data":{"order_id":23000000000001,"price":"65399.9"}}'


def length_framed(body: bytes = BODY, extra: str = "") -> bytes:
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"X-BM-RateLimit-Remaining: 3\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def chunked(body: bytes = BODY, sizes: tuple[int, ...] = (10, 1, 40)) -> bytes:
    out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    rest = body
    for size in sizes:
        part, rest = rest[:size], rest[size:]
        if part:
            out += f"{len(part):x};ext=1\r\n".encode() + part + b"\r\n"
    if rest:
        out += f"{len(rest):X}\r\n".encode() + rest + b"\r\n"
    return out + b"0\r\nX-Trailer: yes\r\n\r\n"


def parse_whole(data: bytes) -> RawReply:
    parser = ResponseParser()
    reply = parser.feed(data)
    assert reply is not None
    assert parser.idle
    return reply


def test_a_content_length_reply_gives_status_headers_body_and_keep_alive() -> None:
    reply = parse_whole(length_framed())
    assert reply.status == 200
    assert reply.body == BODY
    assert reply.headers["x-bm-ratelimit-remaining"] == "3"  # names are case-insensitive
    assert reply.keep_alive


def test_a_chunked_reply_is_joined_and_its_trailers_skipped() -> None:
    reply = parse_whole(chunked())
    assert reply.body == BODY
    assert reply.keep_alive


def test_interim_1xx_replies_are_skipped() -> None:
    reply = parse_whole(b"HTTP/1.1 100 Continue\r\n\r\n" + length_framed())
    assert reply.status == 200
    assert reply.body == BODY


def test_connection_close_and_http_1_0_end_keep_alive() -> None:
    assert not parse_whole(length_framed(extra="Connection: close\r\n")).keep_alive
    old = length_framed().replace(b"HTTP/1.1", b"HTTP/1.0", 1)
    assert not parse_whole(old).keep_alive
    old_kept = length_framed(extra="Connection: keep-alive\r\n").replace(b"HTTP/1.1", b"HTTP/1.0")
    assert parse_whole(old_kept).keep_alive


def test_a_body_without_length_runs_to_the_close() -> None:
    parser = ResponseParser()
    assert parser.feed(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\n\r\n<html>") is None
    assert parser.feed(b"bad gateway</html>") is None
    reply = parser.feed_eof()
    assert reply is not None
    assert (reply.status, reply.body, reply.keep_alive) == (
        502,
        b"<html>bad gateway</html>",
        False,
    )


def test_no_content_replies_have_no_body() -> None:
    reply = parse_whole(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert (reply.status, reply.body) == (204, b"")


def test_gzip_and_deflate_bodies_are_decoded() -> None:
    zipped = gzip.compress(BODY)
    assert parse_whole(length_framed(zipped, "Content-Encoding: gzip\r\n")).body == BODY
    deflated = zlib.compress(BODY)
    assert parse_whole(length_framed(deflated, "Content-Encoding: deflate\r\n")).body == BODY
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflated = raw.compress(BODY) + raw.flush()
    assert parse_whole(length_framed(raw_deflated, "Content-Encoding: deflate\r\n")).body == BODY


def test_the_parser_serves_one_response_after_another() -> None:
    parser = ResponseParser()
    for data in (length_framed(), chunked(), length_framed(b"{}")):
        reply = parser.feed(data)
        assert reply is not None and parser.idle


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded: header\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\nab",
        length_framed() + b"extra bytes after the response",
    ],
)
def test_malformed_replies_are_refused(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        ResponseParser().feed(data)


def test_a_reply_cut_by_the_close_is_refused_and_an_idle_close_is_nothing() -> None:
    parser = ResponseParser()
    assert parser.feed(length_framed()[:-5]) is None
    with pytest.raises(ProtocolError):
        parser.feed_eof()
    assert ResponseParser().feed_eof() is None


def test_an_endless_head_is_refused() -> None:
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 200 OK\r\n")
    for _ in range(64):
        assert parser.feed(b"X-Padding: " + b"a" * 1000 + b"\r\n") is None
    with pytest.raises(ProtocolError, match="head too large"):
        parser.feed(b"X-Padding: " + b"a" * 1000 + b"\r\n")


@settings(max_examples=200, deadline=None)
@given(
    framing=st.sampled_from(["length", "chunked", "interim"]),
    body=st.binary(max_size=300),
    cuts=st.lists(st.integers(min_value=0, max_value=1000), max_size=12),
)
def test_any_split_into_packets_gives_the_same_reply(
    framing: str, body: bytes, cuts: list[int]
) -> None:
    data = {
        "length": length_framed(body),
        "chunked": chunked(body, sizes=(7, 1, 50)),
        "interim": b"HTTP/1.1 100 Continue\r\n\r\n" + length_framed(body),
    }[framing]
    points = sorted({min(cut, len(data)) for cut in cuts} | {0, len(data)})
    parser = ResponseParser()
    replies = [parser.feed(data[a:b]) for a, b in itertools.pairwise(points)]
    complete = [reply for reply in replies if reply is not None]
    assert len(complete) == 1 and replies[-1] is complete[0]  # only once the last byte is in
    assert complete[0].body == body
    assert complete[0].status == 200
    assert parser.idle
