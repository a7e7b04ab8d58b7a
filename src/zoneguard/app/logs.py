"""The ``orders`` log channel: every order event, split by level as the seed asks.

``var/log/orders.log`` has every level; ``orders-debug.log`` only DEBUG,
``orders-info.log`` only INFO, ``orders-error.log`` only ERROR and CRITICAL. WARNING lines
(a retry, a refused signature) go to ``orders.log`` alone: the error file is the
operator's "something needs a human" list, and the seed calls it "Erreurs uniquement".

Lines read ``<UTC time> <LEVEL> orders <message> key=value ...``; extras passed as
``orders_log.info("...", extra={"order_id": ...})`` become the tail, so a line can be
grepped by order id. Text from outside (a callback's reason, the worker's error) goes
through :func:`escaped` first: a newline in it must not start a forged line of its own.
"""

from __future__ import annotations

import logging
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

from zoneguard.logformat import KeyValueFormatter

ORDERS_LOGGER = "zoneguard.orders"
MAX_LOG_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 5
_MARK = "_zoneguard_orders_handler"

orders_log = logging.getLogger(ORDERS_LOGGER)
"""The channel: log order events here, never on the root logger."""


def escaped(text: str) -> str:
    """``text`` on one line, repr-style: backslashes doubled, control and other unprintable
    characters as ``\\n``, ``\\x00``, ``\\u2028``; other non-ASCII letters kept as they are."""
    return "".join(
        char if char.isprintable() and char != "\\" else repr(char)[1:-1] for char in text
    )


class _OnlyLevels(logging.Filter):
    """Lets through exactly the given levels (a handler's level is only a floor)."""

    def __init__(self, *levels: int) -> None:
        super().__init__()
        self.levels = frozenset(levels)

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno in self.levels


class OrdersFormatter(KeyValueFormatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s orders %(message)s")


def setup_orders_logging(var_dir: Path, *, console: bool = False) -> Path:
    """Install the channel's four files under ``<var_dir>/log`` (rotating, 10 MB x 5) and,
    with ``console``, INFO and above on stderr. Calling it again replaces the earlier set.
    Returns the directory."""
    log_dir = var_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    shutdown_orders_logging()
    files: list[tuple[str, tuple[int, ...]]] = [
        ("orders.log", ()),
        ("orders-debug.log", (logging.DEBUG,)),
        ("orders-info.log", (logging.INFO,)),
        ("orders-error.log", (logging.ERROR, logging.CRITICAL)),
    ]
    formatter = OrdersFormatter()
    handlers: list[logging.Handler] = []
    for name, levels in files:
        handler: logging.Handler = RotatingFileHandler(
            log_dir / name, maxBytes=MAX_LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
        if levels:
            handler.addFilter(_OnlyLevels(*levels))
        handlers.append(handler)
    if console:
        stderr = logging.StreamHandler(sys.stderr)
        stderr.setLevel(logging.INFO)
        handlers.append(stderr)
    for handler in handlers:
        handler.setFormatter(formatter)
        setattr(handler, _MARK, True)
        orders_log.addHandler(handler)
    orders_log.setLevel(logging.DEBUG)
    # The channel has its own files; the root logger's handlers would only duplicate it.
    orders_log.propagate = False
    return log_dir


def shutdown_orders_logging() -> None:
    """Remove and close what :func:`setup_orders_logging` installed."""
    for handler in list(orders_log.handlers):
        if getattr(handler, _MARK, False):
            orders_log.removeHandler(handler)
            handler.close()
    orders_log.propagate = True
