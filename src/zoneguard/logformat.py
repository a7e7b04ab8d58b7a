"""One log line format for every process: UTC time, level, source, message, ``key=value`` extras.

Shared by the worker and the app (which may not import each other), so a grep over both
processes' logs reads the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)


def _unchanged(text: str) -> str:
    return text


class KeyValueFormatter(logging.Formatter):
    """``2026-05-09T07:35:25.123Z INFO <source> message key=value ...``; ``mask`` is applied to
    the finished line (the worker hides registered secrets there)."""

    def __init__(self, fmt: str, mask: Callable[[str], str] = _unchanged) -> None:
        super().__init__(fmt)
        self._mask = mask

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [
            f"{key}={render_value(value)}"
            for key, value in record.__dict__.items()
            if key not in STANDARD_ATTRIBUTES and not key.startswith("_")
        ]
        if extras:
            head, newline, tail = line.partition("\n")  # extras stay on the first line
            line = f"{head} {' '.join(extras)}{newline}{tail}"
        return self._mask(line)


def render_value(value: object) -> str:
    """A value as ``key=`` shows it: quoted when it holds spaces, quotes or ``=``."""
    text = str(value)
    if not text or any(c.isspace() or c in '"=' for c in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text
