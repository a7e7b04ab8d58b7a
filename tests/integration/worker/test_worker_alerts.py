"""Operator alerts: CRITICAL line always, webhook when set, de-duplicated, never raising."""

from __future__ import annotations

import logging

import pytest
from worker_http_recorder import Recorder, free_port

from zoneguard.worker import logs
from zoneguard.worker.alerts import Alerter

LOGGER = logging.getLogger("test.worker.alerts")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def critical_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.CRITICAL]


async def test_alert_logs_critical_and_posts_json_to_the_webhook(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    alerter = Alerter(recorder.base_url + "/hook", LOGGER)
    try:
        fresh = await alerter.alert(
            "close_failed", "position o-1 could not be closed", order_id="o-1", attempts=3
        )
    finally:
        await alerter.close()
    assert fresh is True
    (line,) = critical_lines(caplog)
    assert "close_failed" in line.getMessage()
    assert "o-1" in line.getMessage()
    assert line.__dict__["order_id"] == "o-1"
    (posted,) = recorder.on("/hook")
    body = posted.json
    assert body["kind"] == "close_failed"
    assert body["message"] == "position o-1 could not be closed"
    assert body["fields"] == {"order_id": "o-1", "attempts": 3}
    assert body["service"] == "zoneguard-worker"
    assert isinstance(body["at"], str)
    assert body["at"].endswith("Z")


async def test_without_a_webhook_the_log_line_is_the_alert(
    caplog: pytest.LogCaptureFixture,
) -> None:
    alerter = Alerter(None, LOGGER)
    assert await alerter.alert("callback_stale", "stuck") is True
    await alerter.close()
    assert len(critical_lines(caplog)) == 1


async def test_repeats_within_the_window_are_logged_but_not_posted(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    alerter = Alerter(recorder.base_url + "/hook", LOGGER, dedup_window_s=60, clock=clock)
    try:
        assert await alerter.alert("close_failed", "o-1 stuck") is True
        clock.now += 10
        assert await alerter.alert("close_failed", "o-1 stuck") is False
        assert await alerter.alert("close_failed", "o-2 stuck") is True  # another key
        assert await alerter.alert("auth", "refused", dedup_key="auth") is True
        assert await alerter.alert("auth", "refused again", dedup_key="auth") is False
        clock.now += 60
        assert await alerter.alert("close_failed", "o-1 stuck") is True  # window over
    finally:
        await alerter.close()
    assert [r.json["message"] for r in recorder.on("/hook")] == [
        "o-1 stuck",
        "o-2 stuck",
        "refused",
        "o-1 stuck",
    ]
    lines = critical_lines(caplog)
    assert len(lines) == 6  # every alert is logged, repeats marked
    assert [line.__dict__.get("repeat") for line in lines] == [None, 1, None, None, 1, None]


async def test_a_dead_or_failing_webhook_is_logged_never_raised(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    down = Alerter(f"http://127.0.0.1:{free_port()}/hook", LOGGER, timeout_s=2)
    recorder.answer = lambda _request: 500
    failing = Alerter(recorder.base_url + "/hook", LOGGER)
    try:
        assert await down.alert("close_failed", "o-1 stuck") is True
        assert await failing.alert("close_failed", "o-1 stuck") is True
    finally:
        await down.close()
        await failing.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("unreachable" in message for message in errors)
    assert any("HTTP 500" in message for message in errors)
    assert len(critical_lines(caplog)) == 2


async def test_registered_secrets_never_reach_the_webhook(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "_secrets", ())
    logs.register_secret("api-SECRET-42")
    alerter = Alerter(recorder.base_url + "/hook", LOGGER)
    try:
        await alerter.alert("auth", "key api-SECRET-42 refused", detail="api-SECRET-42 bad")
    finally:
        await alerter.close()
    (posted,) = recorder.on("/hook")
    assert b"api-SECRET-42" not in posted.raw
    assert posted.json["message"] == "key *** refused"


async def test_fire_posts_in_the_background_and_close_waits_for_it(recorder: Recorder) -> None:
    recorder.delay_s = 0.1
    alerter = Alerter(recorder.base_url + "/hook", LOGGER)
    alerter.fire("close_failed", "o-1 stuck", order_id="o-1")  # returns at once
    assert recorder.on("/hook") == []
    await alerter.close()
    assert len(recorder.on("/hook")) == 1
