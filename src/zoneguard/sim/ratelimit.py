"""BitMart's per-endpoint rate limits (PROTOCOL §3.4): fixed 2-second windows.

Each endpoint has its own bucket per IP, API key or account. The reply headers report
``X-BM-RateLimit-Remaining`` as the count already *used* in the window (BitMart's
definition despite the name), ``-Limit``, ``-Reset`` (window length in seconds) and
``-Mode`` (what the bucket is keyed by).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

KeyedBy = Literal["IP", "KEY", "UID"]


@dataclass(frozen=True, slots=True)
class RateRule:
    limit: int
    keyed_by: KeyedBy
    window_s: int = 2


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    used: int
    rule: RateRule

    def headers(self) -> dict[str, str]:
        return {
            "X-BM-RateLimit-Remaining": str(self.used),
            "X-BM-RateLimit-Limit": str(self.rule.limit),
            "X-BM-RateLimit-Reset": str(self.rule.window_s),
            "X-BM-RateLimit-Mode": self.rule.keyed_by,
        }


class RateLimiter:
    """Counts requests per (endpoint, caller) in fixed windows opened by the first hit."""

    def __init__(self, enforce: bool = True) -> None:
        self.enforce = enforce
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def hit(self, endpoint: str, caller: str, rule: RateRule, now_s: float) -> Verdict:
        """Count one request; refused (and not counted) once the window is full."""
        if not self.enforce:
            # Limits off: report an empty window, or a well-behaved client would still pause.
            return Verdict(True, 0, rule)
        key = (endpoint, caller)
        start, used = self._current(key, rule, now_s)
        if used >= rule.limit:
            return Verdict(False, used, rule)
        self._windows[key] = (start, used + 1)
        return Verdict(True, used + 1, rule)

    def peek(self, endpoint: str, caller: str, rule: RateRule, now_s: float) -> Verdict:
        """The bucket's state without counting (for replies refused before counting)."""
        _, used = self._current((endpoint, caller), rule, now_s)
        return Verdict(True, used, rule)

    def _current(self, key: tuple[str, str], rule: RateRule, now_s: float) -> tuple[float, int]:
        window = self._windows.get(key)
        if window is None or now_s - window[0] >= rule.window_s:
            return now_s, 0
        return window

    def reset(self) -> None:
        self._windows.clear()
