"""The bus's tables, row by row: enqueue (inside the caller's transaction), claim, settle.

A claim is a lease: ``claimed_until_ms`` in the future hides the row from other consumers;
the consumer renews it while it works and deletes the row when done. A consumer that
crashes stops renewing, and the row comes back when the lease runs out, so a message is
never lost (and may, rarely, be handled twice: every handler is idempotent).

Every claim carries a fresh ``claim_token``, and a claim is settled (deleted, rescheduled,
released, renewed) only while the row still carries the owner *and* that token: a consumer
that stalled past its lease cannot delete the row another consumer claimed since. Row ids
are never reused (AUTOINCREMENT on SQLite, a sequence on PostgreSQL), so a stale id never
names a newer message either.

Claiming uses ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent
consumers never wait on each other nor take the same row; SQLite has one writer at a
time (``BEGIN IMMEDIATE``), which gives the same guarantee.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Result, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from zoneguard.app.db.models import FailedMessage, QueuedMessage
from zoneguard.app.messages import BusMessage

MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message as it travels: its type name, JSON body and the attempts already failed."""

    message_uuid: str
    message_type: str
    body: dict[str, Any]
    attempts: int
    created_ms: int


@dataclass(frozen=True, slots=True)
class Claimed:
    row_id: int
    envelope: Envelope
    owner: str
    token: str
    """Unique to this claim: settling checks it, so a lapsed claim settles nothing."""


def enqueue(
    session: Session,
    message: BusMessage,
    *,
    now_ms: int,
) -> QueuedMessage:
    """Add ``message`` to the bus within the caller's transaction: it exists if and only if
    the transaction commits."""
    return enqueue_envelope(
        session,
        Envelope(str(uuid.uuid4()), message.TYPE, message.body(), 0, now_ms),
        available_ms=now_ms,
    )


def enqueue_envelope(session: Session, envelope: Envelope, *, available_ms: int) -> QueuedMessage:
    row = QueuedMessage(
        message_uuid=envelope.message_uuid,
        message_type=envelope.message_type,
        body=envelope.body,
        attempts=envelope.attempts,
        available_ms=available_ms,
        claimed_until_ms=None,
        claimed_by=None,
        claim_token=None,
        last_error=None,
        created_ms=envelope.created_ms,
    )
    session.add(row)
    session.flush()
    return row


def claim_due(
    session: Session, *, now_ms: int, lease_ms: int, owner: str, limit: int = 1
) -> list[Claimed]:
    """Claim up to ``limit`` messages that are due and not claimed by a live consumer."""
    token = uuid.uuid4().hex
    rows = session.scalars(
        select(QueuedMessage)
        .where(
            QueuedMessage.available_ms <= now_ms,
            or_(
                QueuedMessage.claimed_until_ms.is_(None),
                QueuedMessage.claimed_until_ms < now_ms,
            ),
        )
        .order_by(QueuedMessage.available_ms, QueuedMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = []
    for row in rows:
        row.claimed_until_ms = now_ms + lease_ms
        row.claimed_by = owner
        row.claim_token = token
        envelope = Envelope(
            row.message_uuid, row.message_type, row.body, row.attempts, row.created_ms
        )
        claimed.append(Claimed(row.id, envelope, owner, token))
    return claimed


def _still_ours(claim: Claimed) -> ColumnElement[bool]:
    return and_(
        QueuedMessage.id == claim.row_id,
        QueuedMessage.claimed_by == claim.owner,
        QueuedMessage.claim_token == claim.token,
    )


def _changed(result: Result[Any]) -> bool:
    return bool(getattr(result, "rowcount", 0))


def renew(session: Session, claims: Sequence[Claimed], *, until_ms: int) -> None:
    """Extend the leases of ``claims`` that are still ours."""
    for claim in claims:
        session.execute(
            update(QueuedMessage).where(_still_ours(claim)).values(claimed_until_ms=until_ms)
        )


def remove(session: Session, claim: Claimed) -> bool:
    """Done with it (handled, or relayed to RabbitMQ). False, and nothing deleted, when the
    claim lapsed and another consumer holds the message now."""
    return _changed(session.execute(delete(QueuedMessage).where(_still_ours(claim))))


def reschedule(session: Session, claim: Claimed, *, attempts: int, at_ms: int, error: str) -> bool:
    """Failed again: try once more at ``at_ms``. False when the claim lapsed (see remove)."""
    result = session.execute(
        update(QueuedMessage)
        .where(_still_ours(claim))
        .values(
            attempts=attempts,
            available_ms=at_ms,
            claimed_until_ms=None,
            claimed_by=None,
            claim_token=None,
            last_error=error[:MAX_ERROR_LENGTH],
        )
    )
    return _changed(result)


def release(session: Session, claim: Claimed) -> bool:
    """Give a claimed message back untouched (graceful shutdown)."""
    result = session.execute(
        update(QueuedMessage)
        .where(_still_ours(claim))
        .values(claimed_until_ms=None, claimed_by=None, claim_token=None)
    )
    return _changed(result)


def add_failed(
    session: Session, envelope: Envelope, *, attempts: int, error: str, now_ms: int
) -> FailedMessage:
    row = FailedMessage(
        message_uuid=envelope.message_uuid,
        message_type=envelope.message_type,
        body=envelope.body,
        attempts=attempts,
        last_error=error[:MAX_ERROR_LENGTH],
        created_ms=envelope.created_ms,
        failed_ms=now_ms,
    )
    session.add(row)
    session.flush()
    return row


def list_failed(session: Session, *, limit: int) -> Sequence[FailedMessage]:
    """Newest failures first."""
    return session.scalars(
        select(FailedMessage)
        .order_by(FailedMessage.failed_ms.desc(), FailedMessage.id.desc())
        .limit(limit)
    ).all()


def retry_failed(session: Session, failed_id: int, *, now_ms: int) -> QueuedMessage | None:
    """Put a failed message back on the bus with a fresh set of attempts; None if there is
    no such failed message (already retried, or never was)."""
    failed = session.get(FailedMessage, failed_id, with_for_update=True)
    if failed is None:
        return None
    envelope = Envelope(failed.message_uuid, failed.message_type, failed.body, 0, failed.created_ms)
    session.delete(failed)
    return enqueue_envelope(session, envelope, available_ms=now_ms)


def next_due_ms(session: Session) -> int | None:
    """When the earliest unclaimed message becomes due (for a consumer's sleep)."""
    return session.scalar(
        select(func.min(QueuedMessage.available_ms)).where(QueuedMessage.claimed_until_ms.is_(None))
    )


def pending_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(QueuedMessage)) or 0
