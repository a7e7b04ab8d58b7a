"""``cancel-all-after``: per-symbol dead-man timers (PROTOCOL §7.5).

Each call re-arms the symbol's timer; ``timeout`` 0 disarms it. When a timer runs out the
engine cancels that symbol's open orders; the server looks for expired timers a few
times a second, so the cancel lands within that tick of ``cancel_time``.
"""

from __future__ import annotations

MIN_TIMEOUT_S = 5


class CancelAfterTimers:
    def __init__(self) -> None:
        self._deadlines_ms: dict[str, int] = {}

    def arm(self, symbol: str, timeout_s: int, now_ms: int) -> int:
        """Set (or with 0, clear) the timer; returns the cancel time in ms (0: none)."""
        if timeout_s == 0:
            self._deadlines_ms.pop(symbol, None)
            return 0
        deadline = now_ms + timeout_s * 1000
        self._deadlines_ms[symbol] = deadline
        return deadline

    def expired(self, now_ms: int) -> list[str]:
        """Symbols whose timer ran out, forgotten as they are returned."""
        due = [symbol for symbol, deadline in self._deadlines_ms.items() if deadline <= now_ms]
        for symbol in due:
            del self._deadlines_ms[symbol]
        return due
