"""The change sequence the live feed follows instead of clocks.

Every transaction that changes an order or a position takes the next value of the single
``change_counter`` row and stamps it on each row it changed (``change_seq``). Taking the
value updates that row, and the row lock is held until commit: a second writer waits, so
values are handed out in commit order. A reader that saw value *n* committed has therefore
seen every change up to *n*, whatever the writers' clocks said or however long a commit
waited. The wait serialises only the last instant of order-changing transactions, which
are short and few (signals and callbacks, not prices).
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from zoneguard.app.db.models import ChangeCounter, OrderLifecycle, Position

COUNTER_ID = 1
_TAKEN = "zoneguard_change_seq"


_INSTALLED: weakref.WeakSet[sessionmaker[Session]] = weakref.WeakSet()
"""The sessionmakers already stamping. Not ``event.contains``: SQLAlchemy keys that on
``id()``, and its entry for a collected sessionmaker outlives it (the listener sits on the
sessionmaker's own Session class, freed only by the cyclic GC), so a new sessionmaker that
reused the id was taken as installed and never stamped: a second Database in one process
then wrote changes the live feed could not see."""


def install(sessions: sessionmaker[Session]) -> None:
    """Stamp every flush of these sessions (idempotent)."""
    if sessions in _INSTALLED:
        return
    event.listen(sessions, "before_flush", _stamp)
    event.listen(sessions, "after_transaction_end", _forget)
    _INSTALLED.add(sessions)


def last_change_seq(session: Session) -> int:
    """The highest value handed out by a committed transaction."""
    return session.scalar(select(ChangeCounter.value).where(ChangeCounter.id == COUNTER_ID)) or 0


def _stamp(session: Session, _context: Any, _instances: Any) -> None:
    changed = [
        row
        for row in (*session.new, *session.dirty)
        if isinstance(row, OrderLifecycle | Position)
        and (row in session.new or session.is_modified(row))
    ]
    if not changed:
        return
    seq = session.info.get(_TAKEN)
    if seq is None:
        seq = session.info[_TAKEN] = _take_next(session)
    for row in changed:
        row.change_seq = seq


def _take_next(session: Session) -> int:
    """One value per transaction: the lock taken here is what orders the commits."""
    connection = session.connection()  # not session.execute: that would flush again
    this_row = ChangeCounter.id == COUNTER_ID
    taken = connection.execute(
        update(ChangeCounter).where(this_row).values(value=ChangeCounter.value + 1)
    )
    if not taken.rowcount:
        raise RuntimeError("change_counter has no row: run `zoneguard app migrate`")
    value: int = connection.execute(select(ChangeCounter.value).where(this_row)).scalar_one()
    return value


def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_TAKEN, None)
