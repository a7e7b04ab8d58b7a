"""The hot path's write-ahead note: "about to send this client order id for that order".

A price that fires an entry or a stop must put the order on the wire at once. The full
journal transaction (event row, facts, one SQLite commit: ~0.1 ms here) comes right after
the send, in the same synchronous step; before it, one line goes to this append-only file
(one ``write``: a few microseconds). Both survive the worker's process dying as the journal
does (the kernel has the bytes; neither waits for the disk), so a crash between the send and
the journal commit leaves the line, and the restart learns from it which client order id to
ask the exchange about (see :meth:`OrderQueue.load`).

Every line has been folded into the journal once the commit that follows it succeeds, so the
file is emptied now and then at such a moment; a commit that failed keeps the file whole
until a restart has read it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson

IntentKind = Literal["entry", "close"]

TRUNCATE_AFTER_BYTES = 64 * 1024
"""Empty the file (at a safe moment) once it is this long: reading it back stays instant."""


@dataclass(frozen=True, slots=True)
class Intent:
    """``order_id`` was about to send its ``kind`` attempt ``attempt`` as ``client_order_id``."""

    order_id: str
    kind: IntentKind
    attempt: int
    client_order_id: str
    reason: str
    at_ms: int


class IntentLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = os.fstat(self._fd).st_size
        self._held = False

    def note(self, intent: Intent) -> None:
        """Append one line; on the wire only after this returns."""
        line = (
            orjson.dumps(
                [
                    intent.order_id,
                    intent.kind,
                    intent.attempt,
                    intent.client_order_id,
                    intent.reason,
                    intent.at_ms,
                ]
            )
            + b"\n"
        )
        os.write(self._fd, line)
        self._size += len(line)

    def journaled(self) -> None:
        """The journal commit after the last note succeeded: every line so far is in the
        journal now, so the file may be emptied."""
        if self._size > TRUNCATE_AFTER_BYTES and not self._held:
            self.clear()

    def hold(self) -> None:
        """A journal commit after a send failed: keep every line for the next start."""
        self._held = True

    def read(self) -> list[Intent]:
        """Every complete line, oldest first (a line cut short by a crash is skipped)."""
        intents: list[Intent] = []
        for raw in self.path.read_bytes().splitlines():
            try:
                order_id, kind, attempt, cid, reason, at_ms = orjson.loads(raw)
            except (orjson.JSONDecodeError, ValueError, TypeError):
                continue
            if kind in ("entry", "close"):
                intents.append(Intent(order_id, kind, int(attempt), cid, reason, int(at_ms)))
        return intents

    def clear(self) -> None:
        os.ftruncate(self._fd, 0)
        self._size = 0
        self._held = False

    def close(self) -> None:
        os.close(self._fd)
