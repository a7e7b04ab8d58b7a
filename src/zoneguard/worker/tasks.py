"""The background tasks of one worker component, kept and watched.

A task nobody holds a reference to may be collected while it runs, and an exception nobody
retrieves is an error nobody sees: each component keeps its tasks here, and a task that
fails is logged with its traceback, at the component's level, saying what failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any


class TaskSet:
    def __init__(self, log: logging.Logger, level: int = logging.ERROR) -> None:
        self._log = log
        self._level = level
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(
        self, coro: Coroutine[Any, Any, Any], failure: str, level: int | None = None
    ) -> asyncio.Task[Any]:
        """Run ``coro``; if it raises, log ``failure`` (what could not be done), at
        ``level`` when given, else the component's."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._done(done, failure, level or self._level))
        return task

    def _done(self, task: asyncio.Task[Any], failure: str, level: int) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.log(level, failure, exc_info=task.exception())

    async def cancel_all(self, *others: asyncio.Task[Any]) -> None:
        """Cancel every task kept here (and ``others``) and wait until they are over."""
        tasks = [*self._tasks, *others]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
