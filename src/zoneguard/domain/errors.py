"""Typed domain failures, so callers branch on a class and show a message that names the culprit.

Every exception here is a :class:`DomainError`: the HTTP layer turns a
:class:`PlanValidationError` into a 4xx listing each bad field, while an
:class:`IllegalTransition` or :class:`CorruptHistory` means a bug or a damaged
journal and must never be swallowed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class DomainError(Exception):
    """Base of every failure raised by ``zoneguard.domain``."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One refused input field; ``field`` is the payload key, or ``payload`` for the whole body."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class PlanValidationError(DomainError):
    """A signal payload was refused; ``errors`` lists every bad field, not just the first."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        if not self.errors:
            raise ValueError("PlanValidationError needs at least one FieldError")
        super().__init__("; ".join(str(error) for error in self.errors))

    @property
    def fields(self) -> tuple[str, ...]:
        """The refused field names, in the order they were checked."""
        return tuple(error.field for error in self.errors)


class IllegalTransition(DomainError):
    """A lifecycle move the state table forbids; the lifecycle is left unchanged."""

    def __init__(self, order_id: str, from_state: str | None, to_state: str) -> None:
        self.order_id = order_id
        self.from_state = from_state
        self.to_state = to_state
        super().__init__(
            f"order {order_id!r}: illegal transition {from_state or '(none)'} -> {to_state}"
        )


class CorruptHistory(DomainError):
    """A journaled event sequence cannot be replayed (gap, foreign order, malformed record)."""


class ContractError(DomainError):
    """A size, price or leverage the contract does not allow; ``field`` names the input."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
