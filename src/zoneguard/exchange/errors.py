"""Typed exchange failures, venue-neutral, each saying whether a retry is safe.

The worker's failure policy keys on these classes, never on a venue's numeric codes:
``UnknownOutcome`` means "ask the exchange before resending", ``RateLimited`` means
"wait, then the same request again", ``Rejected`` is definitive.
"""

from __future__ import annotations


class ExchangeError(Exception):
    """Base of every exchange failure. ``code`` is the venue's own code, kept for reports."""

    retryable: bool = False

    def __init__(self, message: str, *, code: int | None = None, http_status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}" if self.code is not None else self.message


class UnknownOutcome(ExchangeError):
    """Timeout, reset, 5xx, 'service unavailable': the request may or may not have landed."""

    retryable = True


class RateLimited(ExchangeError):
    """Too many requests: wait ``retry_after_s`` then send the same request again."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        retry_after_s: float = 1.0,
    ):
        super().__init__(message, code=code, http_status=http_status)
        self.retry_after_s = retry_after_s


class AuthenticationFailed(ExchangeError):
    """Key, signature, timestamp or permission refused: stop sending for this account."""


class Rejected(ExchangeError):
    """A definitive business refusal: the same request will fail again."""


class InvalidRequest(Rejected):
    """Parameters the venue refuses (precision, range, side, leverage...)."""


class PostOnlyWouldCross(Rejected):
    """A maker-only order would have taken liquidity; re-price and try again."""


class DuplicateClientOrderId(Rejected):
    """The client_order_id was already used: the first attempt landed."""


class OrderNotFound(Rejected):
    pass


class PositionNotFound(Rejected):
    """No position (or not enough of it) to close."""


class InsufficientBalance(Rejected):
    pass


class MarketUnavailable(Rejected):
    """Symbol unknown, delisted or paused."""
