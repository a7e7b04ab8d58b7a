"""What every adapter does with its streams' handlers and its REST payloads: call each
handler on its own (one that raises is logged and never stops the others or the socket),
and turn a malformed payload into an exchange error rather than a crash elsewhere."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from zoneguard.exchange.errors import ExchangeError
from zoneguard.exchange.port import ConnectionHandler

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_Event = TypeVar("_Event")


def emit(handlers: Sequence[Callable[[_Event], None]], event: _Event) -> None:
    for handler in handlers:
        try:
            handler(event)
        except Exception:
            log.exception("stream handler %r failed", handler)


def emit_connection(handlers: Sequence[ConnectionHandler], name: str, up: bool) -> None:
    for handler in handlers:
        try:
            handler(name, up)
        except Exception:
            log.exception("connection handler %r failed", handler)


def parsed(parser: Callable[..., _T], payload: Any, what: str, *args: Any) -> _T:
    """``parser(payload, *args)``; a malformed payload is an :class:`ExchangeError`."""
    try:
        return parser(payload, *args)
    except (ValueError, TypeError, KeyError) as exc:
        raise ExchangeError(f"unreadable {what} payload: {exc}") from exc
