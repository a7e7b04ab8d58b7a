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


def test_headers_that_are_not_ascii_or_absurdly_long_are_named_not_crashed() -> None:
    header = sign_callback(SECRET, NOW, BODY)

    def check(ts: str | None, sig: str | None) -> str | None:
        return signature_problem(SECRET, ts, sig, BODY, max_age_s=300, now_ms=NOW)

    # Starlette decodes header bytes as Latin-1: a byte >= 0x80 becomes a non-ASCII str.
    assert "X-Zoneguard-Signature" in str(check(str(NOW), "sha256=\xe9" + header[8:]))
    assert "X-Zoneguard-Signature" in str(check(str(NOW), "sha256=" + "a" * 5000))
    assert "Timestamp" in str(check("\xb2", header))  # superscript two: isdigit() is True
    assert "Timestamp" in str(check("\u0663" * 13, header))  # Arabic-Indic digits
    assert "Timestamp" in str(check("9" * 5000, header))  # int() refuses > 4300 digits
    assert "Timestamp" in str(check("1" * 16, header))
