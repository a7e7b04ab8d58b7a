"""The REST client over real sockets against a tiny scripted BitMart double on 127.0.0.1.

The simulator covers the happy paths; this double scripts the awkward replies the
simulator does not produce (HTML from Cloudflare, rate-limit headers on demand, a hang).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from zoneguard.exchange.bitmart.rest import USER_AGENT, BitMartRestClient
from zoneguard.exchange.errors import (
    AuthenticationFailed,
    InsufficientBalance,
    InvalidRequest,
    RateLimited,
    UnknownOutcome,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bitmart"
KEY, SECRET, MEMO = "loop-key", "loop-secret", "loop-memo"
HANG_BOUND_S = 30.0
"""The shared client's timeout: it only bounds a hang. A short one would race the double's
normal replies on a busy machine (the request cancelled before the loopback answered);
the one test about the timeout makes its own client and a double that never answers."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def fixture_reply(name: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=(FIXTURES / name).read_bytes(),
        content_type="application/json",
        headers=headers,
    )


class Double:
    """Records what arrived; each path's reply is scripted by the test."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.routes: dict[str, Handler] = {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append((request.path_qs, dict(request.headers), body))
        handler = self.routes.get(request.path)
        if handler is None:
            return web.json_response({"code": 30000, "message": "not found"}, status=404)
        return await handler(request)


@pytest.fixture
async def double() -> AsyncIterator[tuple[Double, str]]:
    fake = Double()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def client(double: tuple[Double, str]) -> AsyncIterator[BitMartRestClient]:
    rest = BitMartRestClient(double[1], KEY, SECRET, MEMO, timeout_s=HANG_BOUND_S)
    yield rest
    await rest.close()


async def test_signed_post_signs_the_exact_bytes_and_keeps_int_order_id_as_text(
    double: tuple[Double, str], client: BitMartRestClient
) -> None:
    fake, _ = double

    async def submit(request: web.Request) -> web.Response:
        return fixture_reply("rest_submit_order_response.json")

    fake.routes["/contract/private/submit-order"] = submit
    body = {"symbol": "BTCUSDT", "side": 1, "type": "market", "size": 1}
    reply = await client.submit_order(body)
    assert reply == {"order_id": "220609666322019", "price": "25637.2"}
    (path, headers, raw) = fake.requests[-1]
    assert path == "/contract/private/submit-order"
    assert raw == b'{"symbol":"BTCUSDT","side":1,"type":"market","size":1}'
    ts = headers["X-BM-TIMESTAMP"]
    expected = hmac.new(SECRET.encode(), f"{ts}#{MEMO}#".encode() + raw, hashlib.sha256)
    assert headers["X-BM-SIGN"] == expected.hexdigest()
    assert headers["X-BM-KEY"] == KEY
    assert abs(int(ts) - time.time() * 1000) < 5000
    assert headers["User-Agent"] == USER_AGENT
    assert headers["Content-Type"] == "application/json"


async def test_keyed_get_sends_only_the_key(
    double: tuple[Double, str], client: BitMartRestClient
) -> None:
    fake, _ = double

    async def assets(request: web.Request) -> web.Response:
        return fixture_reply("rest_assets_detail_response.json")

    fake.routes["/contract/private/assets-detail"] = assets
    rows = await client.assets_detail()
    assert [row["currency"] for row in rows] == ["USDT", "BTC", "ETH"]
    _, headers, _ = fake.requests[-1]
    assert headers["X-BM-KEY"] == KEY
    assert "X-BM-SIGN" not in headers
    assert headers["User-Agent"].startswith("zoneguard/")


async def test_query_parameters_and_public_get(
    double: tuple[Double, str], client: BitMartRestClient
) -> None:
    fake, _ = double

    async def history(request: web.Request) -> web.Response:
        return fixture_reply("rest_order_history_response.json")

    fake.routes["/contract/private/order-history"] = history
    rows = await client.order_history("BTCUSDT", client_order_id="BM123")
    assert rows[0]["client_order_id"] == "BM123"
    assert (
        fake.requests[-1][0]
        == "/contract/private/order-history?symbol=BTCUSDT&client_order_id=BM123"
    )


async def test_json_400_becomes_a_typed_rejection(
    double: tuple[Double, str], client: BitMartRestClient
) -> None:
    fake, _ = double

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response(
            {"code": 40027, "message": "insufficient balance", "data": None, "trace": "t"},
            status=400,
        )

    fake.routes["/contract/private/submit-order"] = refuse
    with pytest.raises(InsufficientBalance) as caught:
        await client.submit_order({"symbol": "BTCUSDT"})
    assert (caught.value.code, caught.value.http_status) == (40027, 400)
    for secret in (SECRET, MEMO):
        assert secret not in str(caught.value)


async def test_rate_limit_headers_make_the_next_request_wait(
    double: tuple[Double, str], client: BitMartRestClient
) -> None:
    fake, _ = double
    window_s = 0.4

    async def details(request: web.Request) -> web.Response:
        headers = {
            "X-BM-RateLimit-Remaining": "12",  # used, despite the name
            "X-BM-RateLimit-Limit": "12",
            "X-BM-RateLimit-Reset": str(window_s),
        }
        return fixture_reply("rest_contract_details_response.json", headers)

    fake.routes["/contract/public/details"] = details
    # Timed from before the first request: the window starts when its reply is read, so
    # the second request cannot return sooner than a window after this, however slow
    # the machine (timed after the first request, a late wake-up would eat the window).
    first_at = time.monotonic()
    await client.contract_details("BTCUSDT")
    await client.contract_details("BTCUSDT")
    assert time.monotonic() - first_at >= window_s * 0.9
    assert len(fake.requests) == 2


async def test_headers_below_the_limit_do_not_wait(
    double: tuple[Double, str], client: BitMartRestClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake, _ = double

    async def details(request: web.Request) -> web.Response:
        headers = {
            "X-BM-RateLimit-Remaining": "3",
            "X-BM-RateLimit-Limit": "12",
            "X-BM-RateLimit-Reset": "5",
        }
        return fixture_reply("rest_contract_details_response.json", headers)

    fake.routes["/contract/public/details"] = details
    caplog.set_level(logging.INFO, logger="zoneguard")
    await client.contract_details()
    assert client.gate.delay_for("/contract/public/details") == 0.0
    await client.contract_details()
    assert len(fake.requests) == 2
    assert "rate limit: waiting" not in caplog.text  # the gate held nothing back


async def test_429_raises_rate_limited_with_retry_after(
    double: tuple[Double, str], client: BitMartRestClient
) -> None:
    fake, _ = double

    async def too_many(request: web.Request) -> web.Response:
        return web.json_response(
            {"code": 30013, "message": "too many requests"},
            status=429,
            headers={
                "X-BM-RateLimit-Remaining": "25",
                "X-BM-RateLimit-Limit": "24",
                "X-BM-RateLimit-Reset": "2",
            },
        )

    fake.routes["/contract/private/submit-order"] = too_many
    sent_at = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        await client.submit_order({"symbol": "BTCUSDT"})
    assert caught.value.retry_after_s == 2.0
    # Blocked for the header's whole window from the reply: what is left of it plus the
    # time since the request left covers 2 s, whatever the machine's load.
    left = client.gate.delay_for("/contract/private/submit-order")
    assert 0 < left <= 2.0
    assert left + (time.monotonic() - sent_at) >= 2.0


async def test_cloudflare_html_403_is_authentication_with_hint(
    double: tuple[Double, str], client: BitMartRestClient
) -> None:
    fake, _ = double

    async def cloudflare(request: web.Request) -> web.Response:
        return web.Response(
            text="<html>error code: 1010</html>", status=403, content_type="text/html"
        )

    fake.routes["/contract/public/details"] = cloudflare
    with pytest.raises(AuthenticationFailed, match="User-Agent"):
        await client.contract_details()


async def test_html_502_is_unknown_outcome(
    double: tuple[Double, str], client: BitMartRestClient
) -> None:
    fake, _ = double

    async def gateway(request: web.Request) -> web.Response:
        return web.Response(
            text="<html>502 Bad Gateway</html>", status=502, content_type="text/html"
        )

    fake.routes["/contract/private/submit-order"] = gateway
    with pytest.raises(UnknownOutcome) as caught:
        await client.submit_order({"symbol": "BTCUSDT"})
    assert caught.value.http_status == 502


async def test_timeout_is_unknown_outcome(double: tuple[Double, str]) -> None:
    """A double that never answers: only the client's own timeout can end the request."""
    fake, url = double
    arrived = asyncio.Event()
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        arrived.set()
        await never.wait()  # cancelled when the client hangs up or the double stops
        return fixture_reply("rest_submit_order_response.json")

    fake.routes["/contract/private/submit-order"] = hang
    rest = BitMartRestClient(url, KEY, SECRET, MEMO, timeout_s=0.5)
    try:
        with pytest.raises(UnknownOutcome, match=r"no reply within 0\.5s"):
            await rest.submit_order({"symbol": "BTCUSDT"})
    finally:
        await rest.close()
    assert arrived.is_set()  # the request got there: a timeout, not a refused connection


async def test_connection_dropped_without_reply_is_unknown_outcome() -> None:
    async def slam(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(slam, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    rest = BitMartRestClient(f"http://127.0.0.1:{port}", KEY, SECRET, MEMO, timeout_s=2)
    try:
        with pytest.raises(UnknownOutcome):
            await rest.submit_order({"symbol": "BTCUSDT"})
    finally:
        await rest.close()
        server.close()
        await server.wait_closed()


async def test_refused_connection_is_unknown_outcome() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    rest = BitMartRestClient(f"http://127.0.0.1:{port}", KEY, SECRET, MEMO, timeout_s=2)
    try:
        with pytest.raises(UnknownOutcome):
            await rest.assets_detail()
    finally:
        await rest.close()


async def test_cancel_without_any_id_is_refused_locally(
    double: tuple[Double, str], client: BitMartRestClient
) -> None:
    fake, _ = double
    with pytest.raises(InvalidRequest):
        await client.cancel_order("BTCUSDT")
    assert fake.requests == []


async def test_clock_calibration(double: tuple[Double, str], client: BitMartRestClient) -> None:
    fake, _ = double

    async def system_time(request: web.Request) -> web.Response:
        server_ms = int(time.time() * 1000) + 90_000  # read when the request is served
        return web.json_response(
            {"code": 1000, "message": "OK", "data": {"server_time": server_ms}}
        )

    fake.routes["/system/time"] = system_time
    before = time.time() * 1000
    offset = await client.calibrate_clock()
    round_trip_ms = time.time() * 1000 - before
    # The mid-point estimate is off by at most half the round trip, however long it took.
    assert abs(offset - 90_000) <= round_trip_ms / 2 + 2
    low = time.time() * 1000 + offset
    now = client.now_ms()
    high = time.time() * 1000 + offset
    assert low - 1 <= now <= high + 1
