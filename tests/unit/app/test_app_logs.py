"""The orders channel: orders.log has every level, the others only their own."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from zoneguard.app.logs import orders_log, setup_orders_logging, shutdown_orders_logging


@pytest.fixture(autouse=True)
def restore() -> Iterator[None]:
    yield
    shutdown_orders_logging()


def lines(path: Path) -> list[str]:
    for handler in orders_log.handlers:
        handler.flush()
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def test_each_file_holds_exactly_its_levels(tmp_path: Path) -> None:
    log_dir = setup_orders_logging(tmp_path / "var")
    assert log_dir == tmp_path / "var" / "log"
    logging.getLogger().setLevel(logging.WARNING)  # the root's level must not matter
    orders_log.debug("d-line", extra={"order_id": "order-1"})
    orders_log.info("i-line")
    orders_log.warning("w-line")
    orders_log.error("e-line")
    orders_log.critical("c-line")
    words = {
        name: [line.split(" orders ", 1)[1].split(" ")[0] for line in lines(log_dir / name)]
        for name in ("orders.log", "orders-debug.log", "orders-info.log", "orders-error.log")
    }
    assert words == {
        "orders.log": ["d-line", "i-line", "w-line", "e-line", "c-line"],
        "orders-debug.log": ["d-line"],
        "orders-info.log": ["i-line"],
        "orders-error.log": ["e-line", "c-line"],
    }


def test_lines_carry_time_level_and_extras(tmp_path: Path) -> None:
    log_dir = setup_orders_logging(tmp_path)
    orders_log.info("callback %s", "placed", extra={"order_id": "order-9", "reason": "in zone"})
    (line,) = lines(log_dir / "orders-info.log")
    assert " INFO orders callback placed " in line
    assert line.endswith('order_id=order-9 reason="in zone"')
    assert line[:4].isdigit()
    assert "Z INFO" in line


def test_setting_up_twice_does_not_double_lines(tmp_path: Path) -> None:
    setup_orders_logging(tmp_path)
    log_dir = setup_orders_logging(tmp_path)
    orders_log.error("once")
    assert len(lines(log_dir / "orders-error.log")) == 1


def test_outside_text_is_escaped_onto_one_line() -> None:
    from zoneguard.app.logs import escaped

    assert escaped("bad\nFAKE ERROR line\r\x00") == "bad\\nFAKE ERROR line\\r\\x00"
    assert escaped("a\\nb") == "a\\\\nb"  # a literal backslash-n stays distinguishable
    assert escaped("prix \u00e9lev\u00e9 \u2028") == "prix \u00e9lev\u00e9 \\u2028"
