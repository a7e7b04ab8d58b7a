"""One way to run a process's event loop: uvloop where present (Linux, macOS), the standard
loop elsewhere. uvloop's faster socket reads and writes and timers are worth having in every
long-running process of ours (worker, simulator, app consumer)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
