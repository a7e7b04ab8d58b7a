"""The app's signature check agrees with the worker's signer, byte for byte."""

from __future__ import annotations

from zoneguard.app.signature import expected_signature, signature_problem
from zoneguard.worker.outbox import sign_callback

SECRET = "a-shared-secret"
BODY = b'{"order_id":"order-1","status":"placed","entry_price":65250.0}'
NOW = 1_778_000_000_000


def test_the_worker_and_the_app_compute_the_same_signature() -> None:
    assert expected_signature(SECRET, str(NOW), BODY) == sign_callback(SECRET, NOW, BODY)


def test_a_good_fresh_signature_passes() -> None:
    header = sign_callback(SECRET, NOW, BODY)
    assert (
        signature_problem(SECRET, str(NOW), header, BODY, max_age_s=300, now_ms=NOW + 1000) is None
    )


def test_every_kind_of_bad_signature_is_named() -> None:
    header = sign_callback(SECRET, NOW, BODY)

    def check(ts: str | None, sig: str | None, body: bytes = BODY) -> str | None:
        return signature_problem(SECRET, ts, sig, body, max_age_s=300, now_ms=NOW)

    assert "missing X-Zoneguard-Signature" in str(check(str(NOW), None))
    assert "Timestamp" in str(check(None, header))
    assert "Timestamp" in str(check("soon", header))
    assert "does not match" in str(check(str(NOW), header, BODY + b" "))
    assert "does not match" in str(check(str(NOW), sign_callback("other", NOW, BODY)))
    assert "does not match" in str(check(str(NOW + 1), header))  # the timestamp is signed too
    old = NOW - 301_000
    assert "away from now" in str(check(str(old), sign_callback(SECRET, old, BODY)))
    future = NOW + 301_000
    assert "away from now" in str(check(str(future), sign_callback(SECRET, future, BODY)))
