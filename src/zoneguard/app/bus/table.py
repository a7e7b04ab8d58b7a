"""The bus's tables, row by row: enqueue (inside the caller's transaction), claim, settle.

A claim is a lease: ``claimed_until_ms`` in the future hides the row from other consumers;
the consumer renews it while it works and deletes the row when done. A consumer that
crashes stops renewing, and the row comes back when the lease runs out, so a message is
never lost (and may, rarely, be handled twice: every handler is idempotent).

Claiming uses ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent
consumers never wait on each other nor take the same row; SQLite has one writer at a
time (``BEGIN IMMEDIATE``), which gives the same guarantee.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select, update
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
        claimed.append(
            Claimed(
                row.id,
                Envelope(
                    row.message_uuid, row.message_type, row.body, row.attempts, row.created_ms
                ),
            )
        )
    return claimed


def renew(session: Session, row_ids: Sequence[int], *, owner: str, until_ms: int) -> None:
    if row_ids:
        session.execute(
            update(QueuedMessage)
            .where(QueuedMessage.id.in_(row_ids), QueuedMessage.claimed_by == owner)
            .values(claimed_until_ms=until_ms)
        )


def remove(session: Session, row_id: int) -> None:
    """Done with it (handled, or relayed to RabbitMQ)."""
    session.execute(delete(QueuedMessage).where(QueuedMessage.id == row_id))


def reschedule(session: Session, row_id: int, *, attempts: int, at_ms: int, error: str) -> None:
    """Failed again: try once more at ``at_ms``."""
    session.execute(
        update(QueuedMessage)
        .where(QueuedMessage.id == row_id)
        .values(
            attempts=attempts,
            available_ms=at_ms,
            claimed_until_ms=None,
            claimed_by=None,
            last_error=error[:MAX_ERROR_LENGTH],
        )
    )


def release(session: Session, row_id: int, *, owner: str) -> None:
    """Give a claimed message back untouched (graceful shutdown)."""
    session.execute(
        update(QueuedMessage)
        .where(QueuedMessage.id == row_id, QueuedMessage.claimed_by == owner)
        .values(claimed_until_ms=None, claimed_by=None)
    )


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
