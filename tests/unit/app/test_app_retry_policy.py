"""Backoff 1, 2, 4, 8 s and five attempts by default."""

from __future__ import annotations

import pytest

from zoneguard.app.bus.retry import RetryPolicy


def test_the_default_schedule() -> None:
    policy = RetryPolicy()
    assert [policy.delay_s(n) for n in range(1, 5)] == [1.0, 2.0, 4.0, 8.0]
    assert [policy.gives_up_after(n) for n in range(1, 6)] == [False] * 4 + [True]


def test_delays_are_capped() -> None:
    policy = RetryPolicy(max_attempts=100, base_s=1, max_s=30)
    assert policy.delay_s(10) == 30
    assert policy.delay_s(10_000) == 30


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
