"""Callback bodies, URLs, signatures and the retry backoff."""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from zoneguard.worker.outbox import (
    REQUIRED_FIELDS,
    backoff_delay_s,
    build_callback_body,
    callback_url_for,
    sign_callback,
    verify_callback,
)

SEED_BODIES: dict[str, dict[str, Any]] = {
    "placed": {
        "order_id": "order-123",
        "exchange_order_id": "987654321",
        "entry_price": Decimal("65250.0"),
        "quantity": Decimal("0.01"),
    },
    "failed": {"order_id": "order-123", "error": "insufficient balance"},
    "timeout": {"order_id": "order-123", "reason": "Entry zone not reached within timeout"},
    "closed": {
        "position_id": "order-123",
        "close_order_id": "987654322",
        "reason": "take_profit",
        "close_price": Decimal("68050.0"),
    },
    "close_failed": {"position_id": "order-123", "reason": "stop_loss", "error": "timeout"},
}


@pytest.mark.parametrize("status", sorted(SEED_BODIES))
def test_body_is_the_seeds_plus_event_id_and_timestamp(status: str) -> None:
    at_ms = 1_767_225_600_123  # 2026-01-01T00:00:00.123Z
    body = build_callback_body(status, SEED_BODIES[status], event_id="ev-1", at_ms=at_ms)
    assert body == {
        **SEED_BODIES[status],
        "status": status,
        "event_id": "ev-1",
        "timestamp": "2026-01-01T00:00:00.123Z",
    }
    parsed = datetime.fromisoformat(body["timestamp"])
    assert parsed == datetime(2026, 1, 1, 0, 0, 0, 123_000, tzinfo=UTC)


def test_the_seed_statuses_are_all_there_plus_ours() -> None:
    seed = {"placed", "failed", "timeout", "closed", "close_failed"}
    assert seed <= set(REQUIRED_FIELDS)
    assert set(REQUIRED_FIELDS) - seed == {"filled", "cancelled", "partially_closed", "stop_moved"}


def test_extra_fields_are_kept() -> None:
    fields = {**SEED_BODIES["failed"], "code": 40007, "message": "price out of range"}
    body = build_callback_body("failed", fields, event_id="e", at_ms=0)
    assert body["code"] == 40007
    assert body["message"] == "price out of range"
    assert body["timestamp"] == "1970-01-01T00:00:00.000Z"


@pytest.mark.parametrize(
    ("status", "fields", "match"),
    [
        ("opened", {"order_id": "o"}, "unknown callback status"),
        ("placed", {"order_id": "o", "quantity": 1}, "lacks entry_price, exchange_order_id"),
        ("closed", {**SEED_BODIES["closed"], "status": "closed"}, "may not set status"),
        ("timeout", {**SEED_BODIES["timeout"], "event_id": "x"}, "may not set event_id"),
    ],
)
def test_bodies_that_would_drift_from_the_seed_are_refused(
    status: str, fields: dict[str, object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        build_callback_body(status, fields, event_id="e", at_ms=0)


def test_callback_url_rule() -> None:
    own = "http://trading-app:8080/api/orders/callback?x=1"
    assert callback_url_for(own, "http://ignored:1") == own
    assert callback_url_for(None, "http://app:8080") == "http://app:8080/api/orders/callback"
    assert callback_url_for("  ", "http://app:8080/") == "http://app:8080/api/orders/callback"
    with pytest.raises(ValueError, match="http"):
        callback_url_for("ftp://app/cb", "http://app:8080")


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"order_id":"o","status":"placed"}'
    header = sign_callback("s3cret", 1_700_000_000_000, body)
    expected = hmac.new(b"s3cret", b"1700000000000." + body, hashlib.sha256).hexdigest()
    assert header == f"sha256={expected}"


def test_verify_accepts_the_genuine_and_refuses_forgeries_and_replays() -> None:
    body = b'{"order_id":"o","status":"closed"}'
    now = 1_700_000_000_000
    ts = str(now - 2_000)
    header = sign_callback("s3cret", ts, body)
    assert verify_callback("s3cret", ts, body, header, max_age_s=300, now_ms=now)
    assert not verify_callback("other", ts, body, header, max_age_s=300, now_ms=now)
    assert not verify_callback("s3cret", ts, body + b" ", header, max_age_s=300, now_ms=now)
    assert not verify_callback("s3cret", str(now - 1_000), body, header, 300, now_ms=now)
    assert not verify_callback("s3cret", ts, body, header, max_age_s=1, now_ms=now)  # too old
    assert not verify_callback("s3cret", ts, body, None, max_age_s=300, now_ms=now)
    assert not verify_callback("s3cret", None, body, header, max_age_s=300, now_ms=now)
    assert not verify_callback("s3cret", "12ab", body, header, max_age_s=300, now_ms=now)
    assert not verify_callback("s3cret", ts, body, header[7:], max_age_s=300, now_ms=now)


def test_backoff_doubles_from_half_a_second_to_a_minute_with_jitter() -> None:
    rng = random.Random(1)
    for attempts in range(1, 40):
        ceiling = min(60.0, 0.5 * 2 ** (attempts - 1))
        delay = backoff_delay_s(attempts, base_s=0.5, cap_s=60.0, rng=rng)
        assert 0.75 * ceiling <= delay <= ceiling
    delays = {backoff_delay_s(3, base_s=0.5, cap_s=60.0, rng=rng) for _ in range(20)}
    assert len(delays) > 10  # jittered, not all retries in lockstep
    assert backoff_delay_s(10_000, base_s=0.5, cap_s=60.0, rng=rng) <= 60.0


@pytest.mark.parametrize(
    ("timestamp", "header"),
    [
        ("1700000000000", "sha256=\xe9\xe9"),  # not ASCII: compare_digest would raise
        ("\xb2", "sha256=00"),  # a digit to isdigit(), not to int()
        ("9" * 5000, "sha256=00"),  # beyond int()'s digit limit
        ("", "sha256=00"),
        ("1700000000000", ""),
    ],
)
def test_a_malformed_signature_is_refused_not_raised(timestamp: str, header: str) -> None:
    assert not verify_callback(
        "s3cret", timestamp, b"{}", header, max_age_s=300, now_ms=1_700_000_000_000
    )
