"""Fixed 2-second windows per endpoint and caller."""

from __future__ import annotations

from zoneguard.sim.ratelimit import RateLimiter, RateRule

RULE = RateRule(limit=3, keyed_by="KEY")


def test_window_counts_used_requests_and_refuses_past_the_limit() -> None:
    limiter = RateLimiter()
    used = [limiter.hit("/x", "k", RULE, 100.0).used for _ in range(3)]
    assert used == [1, 2, 3]
    refused = limiter.hit("/x", "k", RULE, 101.0)
    assert (refused.allowed, refused.used) == (False, 3)
    assert refused.headers() == {
        "X-BM-RateLimit-Remaining": "3",
        "X-BM-RateLimit-Limit": "3",
        "X-BM-RateLimit-Reset": "2",
        "X-BM-RateLimit-Mode": "KEY",
    }
    assert limiter.hit("/x", "other", RULE, 101.0).allowed  # another caller's bucket
    assert limiter.hit("/y", "k", RULE, 101.0).allowed  # another endpoint's bucket
    assert limiter.hit("/x", "k", RULE, 102.0).used == 1  # a new window


def test_not_enforced_reports_an_empty_window() -> None:
    # Off means off: headers claiming a full window would still make a good client pause.
    limiter = RateLimiter(enforce=False)
    verdicts = [limiter.hit("/x", "k", RULE, 5.0) for _ in range(RULE.limit + 5)]
    assert all(v.allowed for v in verdicts)
    assert {v.used for v in verdicts} == {0}
