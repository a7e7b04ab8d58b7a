"""Callback delivery over real sockets to a receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from worker_http_recorder import Eventually, Received, Recorder

from zoneguard.worker.alerts import Alerter
from zoneguard.worker.journal import Journal, OutboxItem, hash_payload
from zoneguard.worker.outbox import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    CallbackSender,
    build_callback_body,
    verify_callback,
)

FAST_BACKOFF = {"backoff_base_s": 0.02, "backoff_cap_s": 0.1}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Orders:
    """Journals orders and transitions that enqueue callbacks, as the worker will."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.seq: dict[str, int] = {}
        self.count = 0

    def transition(self, order_id: str, url: str, callbacks: int = 1) -> list[str]:
        if order_id not in self.seq:
            self.seq[order_id] = 1
            self.journal.add_order(
                order_id, "BTCUSDT", {"id": order_id}, hash_payload({"id": order_id}), "waiting",
                1, {"order_id": order_id, "seq": 1, "at_ms": 1},
            )  # fmt: skip
        self.seq[order_id] += 1
        items = []
        for _ in range(callbacks):
            self.count += 1
            event_id = f"{order_id}-ev{self.count}"
            body = build_callback_body(
                "failed", {"order_id": order_id, "error": "x"}, event_id=event_id, at_ms=self.count
            )
            items.append(OutboxItem(event_id, order_id, url, body, created_ms=now_ms()))
        self.journal.record(
            order_id,
            {"order_id": order_id, "seq": self.seq[order_id], "at_ms": self.count},
            state="s",
            callbacks=items,
        )
        return [item.event_id for item in items]


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal.open(tmp_path / "journal.sqlite3")
    yield opened
    opened.close()


@asynccontextmanager
async def running(
    journal: Journal, alerter: Alerter | None = None, **options: Any
) -> AsyncIterator[CallbackSender]:
    options.setdefault("secret", None)
    sender = CallbackSender(
        journal,
        alert=alerter or Alerter(None, logging.getLogger("test.alerts")),
        **{**FAST_BACKOFF, **options},
    )
    task = asyncio.create_task(sender.run())
    try:
        yield sender
    finally:
        await sender.stop()
        await asyncio.wait_for(task, timeout=5)
        if alerter is not None:
            await alerter.close()


def event_ids(received: list[Received], order_id: str | None = None) -> list[str]:
    ids = [r.headers[EVENT_ID_HEADER] for r in received]
    return [i for i in ids if order_id is None or i.startswith(order_id + "-")]


def dedupe(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


async def test_every_callback_arrives_in_order_per_order_with_its_headers(
    journal: Journal, recorder: Recorder, eventually: Eventually
) -> None:
    orders = Orders(journal)
    url = recorder.base_url + "/api/orders/callback"
    expected = {o: [] for o in ("a", "b", "c")}  # type: dict[str, list[str]]
    for _ in range(3):
        for order_id in expected:
            expected[order_id] += orders.transition(order_id, url, callbacks=2)
    async with running(journal) as sender:
        sender.notify()
        await eventually(lambda: journal.pending_count() == 0)
    for order_id, ids in expected.items():
        assert event_ids(recorder.received, order_id) == ids
    for request in recorder.received:
        assert request.path == "/api/orders/callback"
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers[TIMESTAMP_HEADER].isdigit()
        assert SIGNATURE_HEADER not in request.headers
        assert request.json["event_id"] == request.headers[EVENT_ID_HEADER]
        assert request.json["status"] == "failed"
    delivered = journal.callback(expected["a"][0])
    assert delivered is not None
    assert delivered[1] is not None


async def test_prices_go_out_with_every_digit(
    journal: Journal, recorder: Recorder, eventually: Eventually
) -> None:
    from decimal import Decimal

    journal.add_order("p", "BTCUSDT", {}, "h", "waiting", 1, {"seq": 1, "at_ms": 1})
    body = build_callback_body(
        "placed",
        {
            "order_id": "p",
            "exchange_order_id": "987654321",
            "entry_price": Decimal("65250.10"),
            "quantity": Decimal("0.01"),
        },
        event_id="p-1",
        at_ms=5,
    )
    journal.record(
        "p",
        {"seq": 2, "at_ms": 5},
        state="placed",
        callbacks=[OutboxItem("p-1", "p", recorder.base_url + "/cb", body, 5)],
    )
    async with running(journal):
        await eventually(lambda: len(recorder.received) == 1)
    raw = recorder.received[0].raw
    assert b'"entry_price":65250.10' in raw
    assert b'"quantity":0.01' in raw


async def test_receiver_down_then_up_everything_arrives_in_order(
    journal: Journal, stopped_recorder: Recorder, eventually: Eventually
) -> None:
    orders = Orders(journal)
    url = stopped_recorder.base_url + "/api/orders/callback"
    expected = {"a": orders.transition("a", url, 3), "b": orders.transition("b", url, 2)}
    expected["a"] += orders.transition("a", url, 1)
    async with running(journal) as sender:
        await eventually(lambda: sender.failed_attempts >= 6)
        assert journal.pending_count() == 6
        (head_a,) = [i for i in journal.due_callbacks(10**13, 10) if i.order_id == "a"]
        assert head_a.attempts >= 1
        assert "Connect" in (head_a.last_error or "")
        await stopped_recorder.start()
        await eventually(lambda: journal.pending_count() == 0)
    for order_id, ids in expected.items():
        assert event_ids(stopped_recorder.received, order_id) == ids


async def test_a_5xx_is_retried_and_the_orders_next_callback_waits_for_it(
    journal: Journal, recorder: Recorder, eventually: Eventually
) -> None:
    orders = Orders(journal)
    url = recorder.base_url + "/cb"
    a_ids = orders.transition("a", url, 2)
    b_ids = orders.transition("b", url, 2)
    failures = {"left": 3}

    def answer(request: Received) -> int:
        if request.headers[EVENT_ID_HEADER] == a_ids[0] and failures["left"] > 0:
            failures["left"] -= 1
            return 500
        return 200

    recorder.answer = answer
    async with running(journal):
        await eventually(lambda: journal.pending_count() == 0)
    assert event_ids(recorder.received, "a") == [a_ids[0]] * 4 + [a_ids[1]]
    assert event_ids(recorder.received, "b") == b_ids
    sequence = event_ids(recorder.received)
    assert sequence.index(b_ids[1]) < sequence.index(a_ids[1])  # b did not wait for a


async def test_an_order_whose_receiver_keeps_failing_blocks_no_other_order(
    journal: Journal, recorder: Recorder, eventually: Eventually
) -> None:
    orders = Orders(journal)
    recorder.answer = lambda request: 503 if request.path == "/broken" else 200
    stuck = orders.transition("a", recorder.base_url + "/broken", 2)
    fine = orders.transition("b", recorder.base_url + "/cb", 3)
    async with running(journal):
        await eventually(lambda: event_ids(recorder.on("/cb")) == fine)
        await eventually(lambda: len(recorder.on("/broken")) >= 3)
    assert set(event_ids(recorder.on("/broken"))) == {stuck[0]}  # the second never went out
    assert journal.pending_count() == 2


async def test_signed_callbacks_verify_on_the_receiving_side(
    journal: Journal, recorder: Recorder, eventually: Eventually
) -> None:
    orders = Orders(journal)
    orders.transition("a", recorder.base_url + "/cb", 3)
    async with running(journal, secret="shared-s3cret"):
        await eventually(lambda: journal.pending_count() == 0)
    assert len(recorder.received) == 3
    for request in recorder.received:
        header = request.headers[SIGNATURE_HEADER]
        timestamp = request.headers[TIMESTAMP_HEADER]
        assert verify_callback("shared-s3cret", timestamp, request.raw, header, max_age_s=60)
        assert not verify_callback("wrong", timestamp, request.raw, header, max_age_s=60)


async def test_a_restart_delivers_what_was_left(
    tmp_path: Path, stopped_recorder: Recorder, eventually: Eventually
) -> None:
    path = tmp_path / "var" / "journal.sqlite3"
    url = stopped_recorder.base_url + "/cb"
    first = Journal.open(path)
    orders = Orders(first)
    expected = orders.transition("a", url, 2) + orders.transition("a", url, 1)
    expected_b = orders.transition("b", url, 1)
    async with running(first) as sender:
        await eventually(lambda: sender.failed_attempts >= 2)
    first.close()

    second = Journal.open(path)
    try:
        (head,) = [i for i in second.due_callbacks(10**13, 10) if i.order_id == "a"]
        assert head.event_id == expected[0]
        assert head.attempts >= 1
        await stopped_recorder.start()
        async with running(second):
            await eventually(lambda: second.pending_count() == 0)
    finally:
        second.close()
    assert event_ids(stopped_recorder.received, "a") == expected
    assert event_ids(stopped_recorder.received, "b") == expected_b


async def test_notify_wakes_the_idle_sender_at_once(
    journal: Journal, recorder: Recorder, eventually: Eventually
) -> None:
    orders = Orders(journal)
    async with running(journal) as sender:
        await asyncio.sleep(0.05)  # idle: nothing to do, sleeping until told
        ids = orders.transition("a", recorder.base_url + "/cb")
        await asyncio.sleep(0.3)
        assert recorder.received == []  # no polling: it was not told yet
        # With nothing due the sender sleeps with no timeout, so only notify() can start
        # this delivery: its arrival is the proof (timing it under 0.25 s raced the load).
        sender.notify()
        await eventually(lambda: journal.pending_count() == 0)
    assert event_ids(recorder.received) == ids


async def test_deliveries_run_concurrently_but_bounded(
    journal: Journal, recorder: Recorder, eventually: Eventually
) -> None:
    orders = Orders(journal)
    # Each answer held 0.3 s: the sender's next requests must arrive while the first is
    # held to be seen as concurrent, and 0.1 s was short enough for load to separate them.
    recorder.delay_s = 0.3
    for i in range(6):
        orders.transition(f"o{i}", recorder.base_url + "/cb", 2)
    async with running(journal, max_in_flight=3):
        await eventually(lambda: journal.pending_count() == 0)
    assert 2 <= recorder.max_concurrent <= 3  # concurrent, never above the bound
    assert len(recorder.received) == 12


async def test_a_stale_callback_raises_one_alert_and_again_only_after_recovery(
    journal: Journal, recorder: Recorder, eventually: Eventually, caplog: pytest.LogCaptureFixture
) -> None:
    receiver_up = {"value": False}
    recorder.answer = lambda r: 200 if r.path == "/alerts" or receiver_up["value"] else 500
    alerter = Alerter(
        recorder.base_url + "/alerts", logging.getLogger("test.alerts"), dedup_window_s=0
    )
    orders = Orders(journal)
    url = recorder.base_url + "/cb"
    alerts: Callable[[], list[Received]] = lambda: recorder.on("/alerts")  # noqa: E731
    created = time.monotonic()  # before the callback's created_ms is taken
    orders.transition("a", url)
    async with running(journal, alerter, alert_age_s=0.4) as sender:
        await eventually(lambda: len(alerts()) == 1)
        # Not before the callback was 0.4 s old: a lower bound, which a busy machine cannot
        # break (checking "no alert yet" after sleeping 0.1 s could).
        assert time.monotonic() - created >= 0.4 * 0.95
        await asyncio.sleep(0.4)  # still failing, many retries: no second alert
        assert len(alerts()) == 1
        assert alerts()[0].json["kind"] == "callback_stale"
        receiver_up["value"] = True
        await eventually(lambda: journal.pending_count() == 0)
        receiver_up["value"] = False
        orders.transition("a", url)
        sender.notify()
        await eventually(lambda: len(alerts()) == 2)
    assert any(
        r.levelno == logging.CRITICAL and "callback_stale" in r.getMessage() for r in caplog.records
    )


async def test_an_unusable_url_backs_off_instead_of_spinning(
    journal: Journal, recorder: Recorder, eventually: Eventually
) -> None:
    orders = Orders(journal)
    orders.transition("bad", "http://[not-a-host/cb")
    good = orders.transition("good", recorder.base_url + "/cb")
    async with running(journal, backoff_base_s=0.05, backoff_cap_s=0.1) as sender:
        await eventually(lambda: event_ids(recorder.received) == good)
        await asyncio.sleep(0.3)
        attempts = sender.failed_attempts
    assert 1 <= attempts <= 10  # ~0.05-0.1 s apart, not a busy loop
    (stuck,) = journal.due_callbacks(10**13, 10)
    assert stuck.order_id == "bad"
    assert stuck.last_error


async def test_a_callback_refused_as_invalid_is_set_aside_and_the_next_ones_go_out(
    journal: Journal, recorder: Recorder, eventually: Eventually
) -> None:
    """A receiver that keeps answering 422 to one body must not hold the order's later
    callbacks (its ``closed``, say) forever: after a few refusals that body is set aside,
    with an alert, and an operator can send it again once the receiver is fixed."""
    orders = Orders(journal)
    url = recorder.base_url + "/api/orders/callback"
    (refused,) = orders.transition("a", url)
    later = orders.transition("a", url, callbacks=2)
    recorder.answer = lambda r: 422 if r.headers[EVENT_ID_HEADER] == refused else 200
    alerts: list[str] = []
    alerter = Alerter(None, logging.getLogger("test.alerts"))
    original_fire = alerter.alert

    async def record_alert(kind: str, message: str, **fields: Any) -> bool:
        alerts.append(kind)
        return await original_fire(kind, message, **fields)

    alerter.alert = record_alert  # type: ignore[method-assign]
    async with running(journal, alerter) as sender:
        sender.notify()
        await eventually(lambda: journal.pending_count() == 0)
        delivered = dedupe(event_ids(recorder.received, "a"))
        assert delivered == [refused, *later]
        assert event_ids(recorder.received).count(refused) == 3  # three refusals, then aside
        assert [item.event_id for item in journal.refused_callbacks()] == [refused]
        assert journal.refused_count() == 1
        await eventually(lambda: "callback_refused" in alerts)

        recorder.answer = lambda _r: 200  # the receiver is fixed: send it again by hand
        assert journal.retry_refused(refused, now_ms())
        assert not journal.retry_refused(refused, now_ms()), "queued once, not twice"
        sender.notify()
        await eventually(lambda: journal.pending_count() == 0)
    assert event_ids(recorder.received).count(refused) == 4
    assert journal.refused_count() == 0


@pytest.mark.parametrize("status", [401, 403, 429, 500, 503])
async def test_refusals_a_fix_can_end_are_retried_for_as_long_as_it_takes(
    journal: Journal, recorder: Recorder, eventually: Eventually, status: int
) -> None:
    orders = Orders(journal)
    url = recorder.base_url + "/api/orders/callback"
    (first,) = orders.transition("a", url)
    (second,) = orders.transition("a", url)
    recorder.answer = lambda _r: status
    async with running(journal) as sender:
        sender.notify()
        await eventually(lambda: len(recorder.received) >= 6)
        assert set(event_ids(recorder.received)) == {first}, "the next one waits its turn"
        assert journal.refused_count() == 0
        recorder.answer = lambda _r: 200
        await eventually(lambda: journal.pending_count() == 0)
    assert dedupe(event_ids(recorder.received)) == [first, second]
