"""The OrderQueue's durable store: orders, their transitions, and the callback outbox.

One SQLite file in WAL mode with ``synchronous=NORMAL``. A commit is then a write into the
WAL, handed to the operating system without waiting for a disk flush: it survives the
worker process being killed (SIGKILL, OOM, crash), which is the failure we guard
against, and keeps each commit in the tens of microseconds so the hot path can journal
before it acts. A power loss may drop the last few commits but never corrupts the file;
the exchange reconciliation by ``client_order_id`` covers that window.

The disk flushes that remain are the checkpoints (WAL copied into the database file).
SQLite runs them inside whichever commit crosses 1000 WAL pages, which would put two
fsyncs (milliseconds) on the hot path now and then; with ``checkpoint_interval_s`` a
thread with its own connection runs them instead (SQLite releases the GIL meanwhile) and
the commit-time checkpoint is kept only as a far-off safety net.

The journal knows nothing of the lifecycle: states are plain strings and events plain
JSON dicts (``LifecycleEvent.to_dict()``) carrying at least ``seq`` and ``at_ms``.
A transition and the callbacks it causes are written in one transaction (the outbox
pattern), so they are durable together or not at all.

One connection, used from the event loop's thread only; an exclusive lock file keeps a
second worker from running on the same journal.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import orjson

JsonDict = dict[str, Any]

log = logging.getLogger("zoneguard.worker.journal")

SAFETY_NET_CHECKPOINT_PAGES = 20_000
"""With background checkpoints, a commit still checkpoints past this many WAL pages (about
80 MB): only reached if the checkpoint thread cannot keep up or has died."""


class JournalError(Exception):
    """Base of the journal's refusals."""


class JournalLocked(JournalError):
    """Another process holds this journal: two workers must never share one."""


class DuplicateOrder(JournalError):
    """``add_order`` with an order id that is already journaled."""


class UnknownOrder(JournalError):
    """A transition for an order the journal has never seen."""


class SequenceError(JournalError):
    """An event whose ``seq`` is not the next one for its order (a gap or a replay)."""


class DuplicateCallback(JournalError):
    """A callback whose ``event_id`` is already in the outbox."""


@dataclass(frozen=True, slots=True)
class StoredOrder:
    order_id: str
    symbol: str
    payload: JsonDict
    """The plan as received."""
    payload_hash: str
    state: str
    data: JsonDict
    """Mutable facts learnt on the way: exchange ids, filled size, entry price..."""
    created_ms: int
    updated_ms: int
    last_seq: int
    """``seq`` of the order's last event: the next transition must carry ``last_seq + 1``."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One callback to deliver. ``attempts``/``next_attempt_ms``/``last_error`` are the
    delivery bookkeeping: leave them at their defaults when enqueueing."""

    event_id: str
    order_id: str
    url: str
    body: JsonDict
    created_ms: int
    attempts: int = 0
    next_attempt_ms: int = 0
    last_error: str | None = None


MIGRATIONS: list[str] = [
    # 1: the first schema.
    """
    CREATE TABLE orders (
        order_id     TEXT PRIMARY KEY,
        symbol       TEXT NOT NULL,
        payload      TEXT NOT NULL,
        payload_hash TEXT NOT NULL,
        state        TEXT NOT NULL,
        created_ms   INTEGER NOT NULL,
        updated_ms   INTEGER NOT NULL,
        data         TEXT NOT NULL,
        last_seq     INTEGER NOT NULL
    );
    CREATE INDEX orders_by_created ON orders (created_ms);
    CREATE TABLE events (
        order_id TEXT NOT NULL,
        seq      INTEGER NOT NULL,
        event    TEXT NOT NULL,
        at_ms    INTEGER NOT NULL,
        PRIMARY KEY (order_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE outbox (
        event_id        TEXT PRIMARY KEY,
        order_id        TEXT NOT NULL,
        seq             INTEGER NOT NULL,
        url             TEXT NOT NULL,
        body            TEXT NOT NULL,
        created_ms      INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        last_error      TEXT,
        delivered_ms    INTEGER,
        head            INTEGER NOT NULL DEFAULT 0,
        UNIQUE (order_id, seq)
    );
    CREATE INDEX outbox_undelivered ON outbox (order_id, seq) WHERE delivered_ms IS NULL;
    CREATE INDEX outbox_heads ON outbox (next_attempt_ms) WHERE head = 1;
    """,
    # 2: callbacks the receiver refused as invalid, set aside (see Journal.mark_refused).
    """
    ALTER TABLE outbox ADD COLUMN refused_ms INTEGER;
    CREATE INDEX outbox_refused ON outbox (refused_ms) WHERE refused_ms IS NOT NULL;
    """,
]
"""Schema steps, applied in order on open; append, never edit a released step."""


def encode_json(value: object) -> bytes:
    """Compact JSON; a ``Decimal`` is written as a JSON number with its exact digits."""
    return orjson.dumps(value, default=_json_default)


def _json_text(value: object) -> str:
    """:func:`encode_json` as text: the columns are TEXT so ``sqlite3`` shows them as is."""
    return encode_json(value).decode()


def decode_json(raw: str | bytes) -> Any:
    """Inverse of :func:`encode_json`: numbers with a fraction or exponent come back as
    ``Decimal`` (never float), so prices and sizes keep every digit through the journal."""
    return json.loads(raw, parse_float=Decimal)


def hash_payload(payload: Mapping[str, Any]) -> str:
    """SHA-256 of the payload's canonical JSON (sorted keys): same plan, same hash."""
    canonical = orjson.dumps(payload, default=_json_default, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"non-finite Decimal {value} has no JSON form")
        return orjson.Fragment(str(value))
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _require_int(event: Mapping[str, Any], key: str) -> int:
    value = event.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"event needs an integer {key!r}, got {value!r}")
    return value


_ORDER_COLUMNS = (
    "order_id, symbol, payload, payload_hash, state, data, created_ms, updated_ms, last_seq"
)
_OUTBOX_COLUMNS = "event_id, order_id, url, body, created_ms, attempts, next_attempt_ms, last_error"


class Journal:
    """The durable store. Open with :meth:`open`; every method is one short transaction."""

    def __init__(self, path: Path, db: sqlite3.Connection, lock_file: TextIO | None) -> None:
        """Use :meth:`open`; this only binds an already configured connection."""
        self.path = path
        self._db = db
        self._lock_file = lock_file
        self._checkpointer: _Checkpointer | None = None

    @classmethod
    def open(
        cls, path: Path, *, exclusive: bool = True, checkpoint_interval_s: float | None = None
    ) -> Journal:
        """Open (creating the directory, file and tables) and bring the schema up to date.

        ``exclusive`` takes an OS lock on ``<path>.lock`` for the journal's lifetime
        and raises :class:`JournalLocked` when another process has it; the kernel drops
        the lock when the holder dies, so a crash never leaves it stale.

        ``checkpoint_interval_s`` moves checkpoints to a background thread that runs one
        that often (see the module doc); None leaves them to SQLite, inside commits.
        """
        if checkpoint_interval_s is not None and checkpoint_interval_s <= 0:
            raise ValueError("checkpoint_interval_s must be positive")
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_file = _lock(path) if exclusive else None
        try:
            db = sqlite3.connect(path, isolation_level=None, cached_statements=64)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            journal = cls(path, db, lock_file)
            journal._migrate()
            if checkpoint_interval_s is not None:
                db.execute(f"PRAGMA wal_autocheckpoint={SAFETY_NET_CHECKPOINT_PAGES}")
                journal._checkpointer = _Checkpointer(path, checkpoint_interval_s)
                journal._checkpointer.start()
        except BaseException:
            if lock_file is not None:
                lock_file.close()
            raise
        return journal

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self._db.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    @property
    def checkpoints_done(self) -> int:
        """Checkpoints the background thread has completed (0 without one)."""
        return self._checkpointer.done if self._checkpointer is not None else 0

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        row = self._db.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0])

    # -- orders and transitions ---------------------------------------------------------

    def add_order(
        self,
        order_id: str,
        symbol: str,
        payload: Mapping[str, Any],
        payload_hash: str,
        state: str,
        at_ms: int,
        first_event: Mapping[str, Any],
        *,
        data: Mapping[str, Any] | None = None,
        callbacks: Sequence[OutboxItem] = (),
    ) -> None:
        """Journal a new order with its first event (and callbacks), atomically.

        Raises :class:`DuplicateOrder` when ``order_id`` exists; nothing is written then.
        """
        seq = _require_int(first_event, "seq")
        event_at = _require_int(first_event, "at_ms")
        _check_event_order(order_id, first_event)
        with self._transaction():
            try:
                self._db.execute(
                    "INSERT INTO orders (order_id, symbol, payload, payload_hash, state,"
                    " created_ms, updated_ms, data, last_seq) VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        order_id,
                        symbol,
                        _json_text(payload),
                        payload_hash,
                        state,
                        at_ms,
                        at_ms,
                        _json_text(dict(data or {})),
                        seq,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateOrder(f"order {order_id!r} is already journaled") from exc
            self._insert_event(order_id, seq, first_event, event_at)
            self._enqueue(order_id, callbacks)

    def get_order(self, order_id: str) -> StoredOrder | None:
        row = self._db.execute(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE order_id = ?", (order_id,)
        ).fetchone()
        return _stored_order(row) if row is not None else None

    def record(
        self,
        order_id: str,
        event: Mapping[str, Any],
        *,
        state: str,
        data_updates: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        callbacks: Sequence[OutboxItem] = (),
    ) -> None:
        """One transition in ONE transaction: append ``event``, set ``state``, merge
        ``data_updates`` into the order's data (shallow) or replace the data with ``data``
        (one or the other), enqueue ``callbacks``.

        Replacing is the hot path's form: the old data is neither read nor decoded.

        ``event['seq']`` must be the order's ``last_seq + 1``: a gap or a replay raises
        :class:`SequenceError`, an unknown order :class:`UnknownOrder`, an ``event_id``
        already in the outbox :class:`DuplicateCallback`; in each case nothing is written.
        """
        if data is not None and data_updates is not None:
            raise ValueError("record takes data_updates or data, not both")
        seq = _require_int(event, "seq")
        at_ms = _require_int(event, "at_ms")
        _check_event_order(order_id, event)
        new_data = None if data is None else _json_text(dict(data))
        with self._transaction():
            if new_data is None and data_updates:
                row = self._db.execute(
                    "SELECT last_seq, data FROM orders WHERE order_id = ?", (order_id,)
                ).fetchone()
                self._check_next_seq(order_id, seq, None if row is None else row[0])
                merged = decode_json(row[1])
                merged.update(data_updates)
                new_data = _json_text(merged)
            # The seq check rides on the update (one statement fewer on the hot path); the
            # reason for a miss is only looked up when there is one.
            updated = self._db.execute(
                "UPDATE orders SET state = ?, updated_ms = ?, data = COALESCE(?, data),"
                " last_seq = ? WHERE order_id = ? AND last_seq = ?",
                (state, at_ms, new_data, seq, order_id, seq - 1),
            ).rowcount
            if updated != 1:
                row = self._db.execute(
                    "SELECT last_seq FROM orders WHERE order_id = ?", (order_id,)
                ).fetchone()
                self._check_next_seq(order_id, seq, None if row is None else row[0])
                raise JournalError(f"order {order_id!r}: its row did not take seq {seq}")
            self._insert_event(order_id, seq, event, at_ms)
            self._enqueue(order_id, callbacks)

    @staticmethod
    def _check_next_seq(order_id: str, seq: int, last_seq: int | None) -> None:
        if last_seq is None:
            raise UnknownOrder(f"order {order_id!r} is not in the journal")
        if seq != last_seq + 1:
            raise SequenceError(
                f"order {order_id!r}: event seq {seq} after {last_seq} (expected {last_seq + 1})"
            )

    def update_data(
        self, order_id: str, data_updates: Mapping[str, Any], *, at_ms: int | None = None
    ) -> None:
        """Merge facts learnt without a transition (shallow, like :meth:`record`); sets
        ``updated_ms`` when ``at_ms`` is given. Raises :class:`UnknownOrder`."""
        with self._transaction():
            row = self._db.execute(
                "SELECT data FROM orders WHERE order_id = ?", (order_id,)
            ).fetchone()
            if row is None:
                raise UnknownOrder(f"order {order_id!r} is not in the journal")
            data = decode_json(row[0])
            data.update(data_updates)
            self._db.execute(
                "UPDATE orders SET data = ?, updated_ms = COALESCE(?, updated_ms)"
                " WHERE order_id = ?",
                (_json_text(data), at_ms, order_id),
            )

    def replace_data(
        self,
        order_id: str,
        data: Mapping[str, Any],
        *,
        at_ms: int | None = None,
        callbacks: Sequence[OutboxItem] = (),
    ) -> None:
        """Set the order's facts to ``data`` (nothing read or merged: the caller holds them
        all), with ``callbacks`` enqueued in the same transaction (a fact and the report of
        it, e.g. a partial close, land together or not at all); sets ``updated_ms`` when
        ``at_ms`` is given. Raises :class:`UnknownOrder`."""
        text = _json_text(dict(data))
        with self._transaction():
            cursor = self._db.execute(
                "UPDATE orders SET data = ?, updated_ms = COALESCE(?, updated_ms)"
                " WHERE order_id = ?",
                (text, at_ms, order_id),
            )
            if cursor.rowcount == 0:
                raise UnknownOrder(f"order {order_id!r} is not in the journal")
            self._enqueue(order_id, callbacks)

    def events(self, order_id: str) -> list[JsonDict]:
        """The order's events, oldest first."""
        rows = self._db.execute(
            "SELECT event FROM events WHERE order_id = ? ORDER BY seq", (order_id,)
        ).fetchall()
        return [decode_json(event) for (event,) in rows]

    def open_orders(self, terminal_states: Collection[str]) -> list[StoredOrder]:
        """Every order whose state is not in ``terminal_states``, oldest first:
        what a restarted worker must resume and reconcile."""
        terminal = list(terminal_states)
        marks = ",".join("?" * len(terminal))
        where = f"WHERE state NOT IN ({marks})" if terminal else ""
        rows = self._db.execute(
            f"SELECT {_ORDER_COLUMNS} FROM orders {where} ORDER BY created_ms, rowid", terminal
        ).fetchall()
        return [_stored_order(row) for row in rows]

    def orders(
        self, *, limit: int = 100, states: Collection[str] | None = None
    ) -> list[StoredOrder]:
        """The newest ``limit`` orders, newest first, optionally only those in ``states``."""
        params: list[object] = []
        where = ""
        if states is not None:
            wanted = list(states)
            if not wanted:
                return []
            where = f"WHERE state IN ({','.join('?' * len(wanted))})"
            params.extend(wanted)
        params.append(limit)
        rows = self._db.execute(
            f"SELECT {_ORDER_COLUMNS} FROM orders {where}"
            " ORDER BY created_ms DESC, rowid DESC LIMIT ?",
            params,
        ).fetchall()
        return [_stored_order(row) for row in rows]

    # -- callback outbox ----------------------------------------------------------------

    def due_callbacks(self, now_ms: int, limit: int) -> list[OutboxItem]:
        """Undelivered callbacks due at ``now_ms``, oldest first, at most one per order:
        only an order's head (its lowest undelivered one), so each order's callbacks go
        out strictly in order while different orders never wait for each other."""
        rows = self._db.execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE head = 1 AND next_attempt_ms <= ?"
            " ORDER BY created_ms, rowid LIMIT ?",
            (now_ms, limit),
        ).fetchall()
        return [_outbox_item(row) for row in rows]

    def next_due_ms(self, exclude_order_ids: Collection[str] = ()) -> int | None:
        """When the earliest order head becomes due (may be in the past), ignoring the
        orders in ``exclude_order_ids`` (those already being delivered); None if none."""
        excluded = list(exclude_order_ids)
        where = f" AND order_id NOT IN ({','.join('?' * len(excluded))})" if excluded else ""
        row = self._db.execute(
            f"SELECT MIN(next_attempt_ms) FROM outbox WHERE head = 1{where}", excluded
        ).fetchone()
        return None if row[0] is None else int(row[0])

    def mark_delivered(self, event_id: str, at_ms: int) -> None:
        """Record the 2xx; the order's next undelivered callback becomes its head."""
        with self._transaction():
            row = self._db.execute(
                "UPDATE outbox SET delivered_ms = ?, attempts = attempts + 1, last_error = NULL,"
                " head = 0 WHERE event_id = ? AND delivered_ms IS NULL RETURNING order_id",
                (at_ms, event_id),
            ).fetchone()
            if row is not None:
                self._promote_head(row[0])

    def mark_refused(self, event_id: str, error: str, at_ms: int) -> None:
        """Set aside a callback the receiver keeps refusing as invalid (a 4xx that no retry
        can change): it leaves the order's queue, so the callbacks after it (``closed``...)
        are not held behind it forever. It stays here, listed and retryable by hand."""
        with self._transaction():
            row = self._db.execute(
                "UPDATE outbox SET refused_ms = ?, delivered_ms = ?, attempts = attempts + 1,"
                " last_error = ?, head = 0 WHERE event_id = ? AND delivered_ms IS NULL"
                " RETURNING order_id",
                (at_ms, at_ms, error[:1000], event_id),
            ).fetchone()
            if row is not None:
                self._promote_head(row[0])

    def refused_callbacks(self, limit: int = 1000) -> list[OutboxItem]:
        rows = self._db.execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE refused_ms IS NOT NULL"
            " ORDER BY refused_ms, rowid LIMIT ?",
            (limit,),
        ).fetchall()
        return [_outbox_item(row) for row in rows]

    def refused_count(self) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM outbox WHERE refused_ms IS NOT NULL"
        ).fetchone()
        return int(row[0])

    def retry_refused(self, event_id: str, now_ms: int) -> bool:
        """Queue a set-aside callback again (the receiver was fixed). It goes out before
        the order's later callbacks still waiting; False if no such callback is set aside."""
        with self._transaction():
            row = self._db.execute(
                "UPDATE outbox SET refused_ms = NULL, delivered_ms = NULL, next_attempt_ms = ?"
                " WHERE event_id = ? AND refused_ms IS NOT NULL RETURNING order_id",
                (now_ms, event_id),
            ).fetchone()
            if row is None:
                return False
            self._db.execute(
                "UPDATE outbox SET head = 0 WHERE order_id = ? AND head = 1", (row[0],)
            )
            self._promote_head(row[0])
        return True

    def mark_failed(self, event_id: str, error: str, next_attempt_ms: int) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_ms = ?"
                " WHERE event_id = ? AND delivered_ms IS NULL",
                (error[:1000], next_attempt_ms, event_id),
            )

    def retry_pending_now(self, now_ms: int) -> int:
        """Make every undelivered callback due now (a restart: the receiver may long be
        back, no reason to sit out a backoff chosen before the crash); returns how many."""
        with self._transaction():
            cursor = self._db.execute(
                "UPDATE outbox SET next_attempt_ms = ?"
                " WHERE delivered_ms IS NULL AND next_attempt_ms > ?",
                (now_ms, now_ms),
            )
        return cursor.rowcount

    def oldest_undelivered_ms(self) -> int | None:
        """``created_ms`` of the oldest callback still waiting. Read from the heads only:
        an order's callbacks are created in order, so its oldest waiting one is its head."""
        row = self._db.execute("SELECT MIN(created_ms) FROM outbox WHERE head = 1").fetchone()
        return None if row[0] is None else int(row[0])

    def pending_count(self) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM outbox WHERE delivered_ms IS NULL").fetchone()
        return int(row[0])

    def callback(self, event_id: str) -> tuple[OutboxItem, int | None] | None:
        """One outbox row and its ``delivered_ms`` (None while undelivered); for status
        pages and tests."""
        row = self._db.execute(
            f"SELECT {_OUTBOX_COLUMNS}, delivered_ms FROM outbox WHERE event_id = ?",
            (event_id,),
        ).fetchone()
        if row is None:
            return None
        return _outbox_item(row[:-1]), row[-1]

    def purge_delivered(self, before_ms: int) -> int:
        """Drop callbacks delivered before ``before_ms``; returns how many."""
        with self._transaction():
            cursor = self._db.execute(
                "DELETE FROM outbox WHERE delivered_ms IS NOT NULL AND delivered_ms < ?"
                " AND refused_ms IS NULL",
                (before_ms,),
            )
        return cursor.rowcount

    # -- internals ----------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _insert_event(self, order_id: str, seq: int, event: Mapping[str, Any], at_ms: int) -> None:
        try:
            self._db.execute(
                "INSERT INTO events (order_id, seq, event, at_ms) VALUES (?,?,?,?)",
                (order_id, seq, _json_text(event), at_ms),
            )
        except sqlite3.IntegrityError as exc:  # only reachable if last_seq was tampered with
            raise SequenceError(f"order {order_id!r}: event seq {seq} already journaled") from exc

    def _enqueue(self, order_id: str, callbacks: Sequence[OutboxItem]) -> None:
        if not callbacks:
            return
        for item in callbacks:
            if item.order_id != order_id:
                raise ValueError(
                    f"callback {item.event_id!r} is for order {item.order_id!r}, not {order_id!r}"
                )
        last_seq, has_head = self._db.execute(
            "SELECT COALESCE(MAX(seq), 0), EXISTS (SELECT 1 FROM outbox"
            " WHERE order_id = ?1 AND delivered_ms IS NULL) FROM outbox WHERE order_id = ?1",
            (order_id,),
        ).fetchone()
        seq = int(last_seq)
        for item in callbacks:
            seq += 1
            head = 0 if has_head else 1  # the first of an idle order's batch leads
            has_head = True
            try:
                self._db.execute(
                    "INSERT INTO outbox (event_id, order_id, seq, url, body, created_ms,"
                    " attempts, next_attempt_ms, last_error, head) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        item.event_id,
                        order_id,
                        seq,
                        item.url,
                        _json_text(item.body),
                        item.created_ms,
                        item.attempts,
                        item.next_attempt_ms,
                        item.last_error,
                        head,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateCallback(f"callback {item.event_id!r} is already queued") from exc

    def _promote_head(self, order_id: str) -> None:
        """Keep the invariant: exactly the order's lowest undelivered callback has
        ``head = 1``. The ``head`` flag lets the sender's queries read heads only,
        through a small index, however many callbacks pile up behind them."""
        self._db.execute(
            "UPDATE outbox SET head = 1 WHERE head = 0 AND rowid = (SELECT rowid FROM outbox"
            " WHERE order_id = ? AND delivered_ms IS NULL ORDER BY seq LIMIT 1)",
            (order_id,),
        )

    def _migrate(self) -> None:
        self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = self._db.execute("SELECT version FROM schema_version").fetchone()
        if row is None:
            self._db.execute("INSERT INTO schema_version (version) VALUES (0)")
            current = 0
        else:
            current = int(row[0])
        if current > len(MIGRATIONS):
            raise JournalError(
                f"{self.path}: schema version {current} is newer than this program's"
                f" {len(MIGRATIONS)}; refusing to open it"
            )
        for version in range(current + 1, len(MIGRATIONS) + 1):
            step = MIGRATIONS[version - 1]
            try:
                # executescript commits any open transaction first, so the step carries
                # its own BEGIN/COMMIT: a step and its version bump land together.
                self._db.executescript(
                    f"BEGIN IMMEDIATE;\n{step}\n"
                    f"UPDATE schema_version SET version = {version};\nCOMMIT;"
                )
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise


class _Checkpointer:
    """A daemon thread that checkpoints the journal's WAL from its own connection.

    ``PASSIVE`` checkpoints never wait for (nor block) the event loop's commits; the
    fsyncs they need happen here, with the GIL released by ``sqlite3``.
    """

    def __init__(self, path: Path, interval_s: float) -> None:
        self._path = path
        self._interval_s = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="journal-checkpoint", daemon=True)
        self.done = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=True)
        except sqlite3.Error:
            log.exception("journal checkpoint thread cannot open %s", self._path)
            return
        try:
            db.execute("PRAGMA synchronous=NORMAL")
            while not self._stopping.wait(self._interval_s):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.done += 1
                except sqlite3.Error as exc:  # busy or I/O: the next round tries again
                    log.warning("journal checkpoint failed: %s", exc)
        finally:
            db.close()


def _lock(path: Path) -> TextIO:
    lock_path = path.with_name(path.name + ".lock")
    lock_file = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 (held for the lifetime)
    try:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        lock_file.close()
        raise JournalLocked(f"{path} is in use by another process") from exc
    lock_file.seek(0)
    lock_file.truncate()
    lock_file.write(f"{os.getpid()}\n")
    lock_file.flush()
    return lock_file


def _check_event_order(order_id: str, event: Mapping[str, Any]) -> None:
    other = event.get("order_id", order_id)
    if other != order_id:
        raise ValueError(f"event for order {other!r} recorded under {order_id!r}")


def _stored_order(row: tuple[Any, ...]) -> StoredOrder:
    order_id, symbol, payload, payload_hash, state, data, created_ms, updated_ms, last_seq = row
    return StoredOrder(
        order_id=order_id,
        symbol=symbol,
        payload=decode_json(payload),
        payload_hash=payload_hash,
        state=state,
        data=decode_json(data),
        created_ms=created_ms,
        updated_ms=updated_ms,
        last_seq=last_seq,
    )


def _outbox_item(row: tuple[Any, ...]) -> OutboxItem:
    event_id, order_id, url, body, created_ms, attempts, next_attempt_ms, last_error = row
    return OutboxItem(
        event_id=event_id,
        order_id=order_id,
        url=url,
        body=decode_json(body),
        created_ms=created_ms,
        attempts=attempts,
        next_attempt_ms=next_attempt_ms,
        last_error=last_error,
    )
