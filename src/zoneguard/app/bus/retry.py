"""When to try a failed message again, and when to stop."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_attempts`` tries in all; after the n-th failure wait ``base_s * 2**(n-1)``
    (1 s, 2 s, 4 s, 8 s by default) capped at ``max_s``, then the failure queue."""

    max_attempts: int = 5
    base_s: float = 1.0
    max_s: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_s <= 0 or self.max_s <= 0:
            raise ValueError("max_attempts >= 1 and positive delays, please")

    def gives_up_after(self, attempt: int) -> bool:
        return attempt >= self.max_attempts

    def delay_s(self, attempt: int) -> float:
        """Wait after the ``attempt``-th failure (1-based)."""
        return float(min(self.max_s, self.base_s * 2.0 ** min(max(attempt - 1, 0), 60)))
