"""WsWorkerClient against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import pytest
from app_harness import FakeWorker, free_port

from zoneguard.app.worker_client import (
    WorkerMisconfigured,
    WorkerRejected,
    WorkerUnavailable,
    WsWorkerClient,
)

ORDER = {"id": "order-1", "symbol": "BTCUSDT", "side": "long"}


async def test_place_order_posts_the_payload_and_returns_the_answer(
    fake_worker: FakeWorker,
) -> None:
    client = WsWorkerClient(fake_worker.url, retry_delay_s=0.01)
    try:
        answer = await client.place_order(ORDER)
    finally:
        await client.close()
    assert answer["order_id"] == "order-1"
    ((method, path, headers, body),) = fake_worker.requests
    assert (method, path, body) == ("POST", "/api/place-order", ORDER)
    assert headers["Content-Type"] == "application/json"
    assert "Authorization" not in headers


async def test_the_bearer_token_is_sent_when_set(fake_worker: FakeWorker) -> None:
    client = WsWorkerClient(fake_worker.url, api_token="tok-123")
    try:
        await client.status()
    finally:
        await client.close()
    assert fake_worker.requests[0][2]["Authorization"] == "Bearer tok-123"


async def test_a_worker_that_is_down_raises_worker_unavailable() -> None:
    client = WsWorkerClient(f"http://127.0.0.1:{free_port()}", attempts=2, retry_delay_s=0.01)
    try:
        with pytest.raises(WorkerUnavailable, match="place-order"):
            await client.place_order(ORDER)
    finally:
        await client.close()


async def test_idempotent_calls_are_retried_through_5xx(fake_worker: FakeWorker) -> None:
    fake_worker.replies = [
        (502, b"bad gateway"),
        (503, {"ok": False, "error": "worker is starting"}),
    ]
    client = WsWorkerClient(fake_worker.url, attempts=3, retry_delay_s=0.01)
    try:
        answer = await client.place_order(ORDER)
    finally:
        await client.close()
    assert answer["ok"] is True
    assert len(fake_worker.requests) == 3


async def test_5xx_every_time_ends_in_worker_unavailable(fake_worker: FakeWorker) -> None:
    fake_worker.replies = [(500, {"ok": False, "error": "boom"})] * 3
    client = WsWorkerClient(fake_worker.url, attempts=3, retry_delay_s=0.01)
    try:
        with pytest.raises(WorkerUnavailable, match="HTTP 500: boom"):
            await client.place_order(ORDER)
    finally:
        await client.close()
    assert len(fake_worker.requests) == 3


async def test_a_4xx_is_definitive_and_carries_the_workers_message(fake_worker: FakeWorker) -> None:
    fake_worker.replies = [(409, {"ok": False, "error": "side: BTCUSDT long already has order x"})]
    client = WsWorkerClient(fake_worker.url, attempts=3, retry_delay_s=0.01)
    try:
        with pytest.raises(WorkerRejected) as caught:
            await client.place_order(ORDER)
    finally:
        await client.close()
    assert caught.value.status == 409
    assert caught.value.message == "side: BTCUSDT long already has order x"
    assert len(fake_worker.requests) == 1


async def test_429_means_later_not_never(fake_worker: FakeWorker) -> None:
    fake_worker.replies = [(429, {"error": "slow down"})] * 2
    client = WsWorkerClient(fake_worker.url, attempts=2, retry_delay_s=0.01)
    try:
        with pytest.raises(WorkerUnavailable, match="429"):
            await client.place_order(ORDER)
    finally:
        await client.close()


async def test_cancel_and_close_are_sent_once(fake_worker: FakeWorker) -> None:
    fake_worker.replies = [(503, {"error": "x"}), (503, {"error": "y"})]
    client = WsWorkerClient(fake_worker.url, attempts=3, retry_delay_s=0.01)
    try:
        with pytest.raises(WorkerUnavailable):
            await client.cancel("order-1")
        with pytest.raises(WorkerUnavailable):
            await client.close_position("order/1")
    finally:
        await client.close()
    assert [p for _m, p, _h, _b in fake_worker.requests] == [
        "/api/orders/order-1/cancel",
        "/api/orders/order%2F1/close",
    ]


async def test_a_slow_worker_times_out(fake_worker: FakeWorker) -> None:
    fake_worker.delay_s = 1.0
    client = WsWorkerClient(fake_worker.url, timeout_s=0.2, attempts=1)
    try:
        with pytest.raises(WorkerUnavailable, match="no answer in time"):
            await client.monitor_position({"id": "m-1"})
    finally:
        await client.close()


async def test_klines_pass_the_query(fake_worker: FakeWorker) -> None:
    fake_worker.replies = [(200, {"symbol": "BTCUSDT", "tf": "1m", "bars": []})]
    client = WsWorkerClient(fake_worker.url)
    try:
        answer = await client.klines("BTCUSDT", "1m", 60)
    finally:
        await client.close()
    assert answer["bars"] == []
    assert fake_worker.requests[0][1] == "/api/market/BTCUSDT/klines?tf=1m&limit=60"


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_token_is_a_configuration_problem_not_a_verdict(
    fake_worker: FakeWorker, status: int
) -> None:
    fake_worker.replies = [(status, {"ok": False, "error": "bad token"})] * 3
    client = WsWorkerClient(fake_worker.url, attempts=3, retry_delay_s=0.01)
    try:
        with pytest.raises(WorkerMisconfigured, match="ZONEGUARD_API_TOKEN"):
            await client.place_order(ORDER)
        with pytest.raises(WorkerMisconfigured):
            await client.cancel("order-1")
    finally:
        await client.close()
    assert len(fake_worker.requests) == 2  # once each: a second try would get the same answer


async def test_a_404_on_place_order_means_a_wrong_url_but_on_an_order_an_unknown_order(
    fake_worker: FakeWorker,
) -> None:
    fake_worker.replies = [
        (404, b"<html>Not Found</html>"),
        (404, b"<html>Not Found</html>"),
        (404, {"ok": False, "error": "order_id: order-1 is unknown"}),
        (404, b"<html>Not Found</html>"),
    ]
    client = WsWorkerClient(fake_worker.url, attempts=1)
    try:
        with pytest.raises(WorkerMisconfigured, match="WS_WORKER_BASE_URL"):
            await client.place_order(ORDER)
        with pytest.raises(WorkerMisconfigured):
            await client.monitor_position(ORDER)
        with pytest.raises(WorkerRejected) as worker_said:
            await client.cancel("order-1")
        with pytest.raises(WorkerRejected) as proxy_said:
            await client.cancel("order-1")
    finally:
        await client.close()
    assert worker_said.value.unknown_order
    assert not proxy_said.value.unknown_order


@pytest.mark.parametrize("status", [400, 409, 422])
async def test_validation_answers_stay_final(fake_worker: FakeWorker, status: int) -> None:
    fake_worker.replies = [(status, {"ok": False, "error": "no"})]
    client = WsWorkerClient(fake_worker.url, attempts=3, retry_delay_s=0.01)
    try:
        with pytest.raises(WorkerRejected):
            await client.place_order(ORDER)
    finally:
        await client.close()
