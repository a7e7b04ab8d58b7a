"""var/log/app.log: written, levelled, SLTP-marked, secrets masked."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from zoneguard.worker import logs
from zoneguard.worker.logs import (
    mask_secrets,
    register_secret,
    setup_worker_logging,
    shutdown_worker_logging,
    sltp_logger,
)

LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+ .+$"
)


@pytest.fixture(autouse=True)
def isolated_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    monkeypatch.setattr(logs, "_secrets", ())
    yield
    shutdown_worker_logging()
    root.setLevel(level)


def read_log(path: Path) -> list[str]:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return path.read_text(encoding="utf-8").splitlines()


def test_lines_go_to_var_log_app_log_with_time_level_logger_and_extras(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = setup_worker_logging(tmp_path / "var")
    assert path == tmp_path / "var" / "log" / "app.log"
    logging.getLogger("zoneguard.worker.test").info(
        "order %s placed", "o-1", extra={"order_id": "o-1", "reason": "in zone now"}
    )
    (line,) = read_log(path)
    assert LINE.match(line), line
    assert " INFO zoneguard.worker.test order o-1 placed " in line
    assert line.endswith('order_id=o-1 reason="in zone now"')
    assert "order o-1 placed" in capsys.readouterr().err  # and on stderr


def test_the_level_filters_lines(tmp_path: Path) -> None:
    path = setup_worker_logging(tmp_path, level="WARNING")
    log = logging.getLogger("zoneguard.worker.test")
    log.info("quiet")
    log.warning("loud")
    assert [line.split(" ", 2)[1] for line in read_log(path)] == ["WARNING"]
    path = setup_worker_logging(tmp_path, level="debug")
    log.debug("now visible")
    assert "now visible" in read_log(path)[-1]
    with pytest.raises(ValueError, match="VERBOSE"):
        setup_worker_logging(tmp_path, level="VERBOSE")


def test_setting_up_twice_does_not_duplicate_lines(tmp_path: Path) -> None:
    setup_worker_logging(tmp_path)
    path = setup_worker_logging(tmp_path)
    logging.getLogger("zoneguard").info("once")
    assert sum("once" in line for line in read_log(path)) == 1


def test_every_sltp_line_carries_the_sltp_marker(tmp_path: Path) -> None:
    path = setup_worker_logging(tmp_path)
    sltp_logger().warning("stop-loss crossed", extra={"order_id": "o-9", "price": "64000"})
    logging.getLogger("zoneguard.worker.entry").info("entry zone reached")
    lines = read_log(path)
    sltp_lines = [line for line in lines if "SLTP" in line]
    assert len(sltp_lines) == 1
    assert "stop-loss crossed" in sltp_lines[0]
    assert "order_id=o-9" in sltp_lines[0]


def test_registered_secrets_are_masked_in_message_args_extras_and_tracebacks(
    tmp_path: Path,
) -> None:
    path = setup_worker_logging(tmp_path)
    register_secret("k3y-SECRET-value")
    register_secret("sk")  # too short to mask: would garble every line
    log = logging.getLogger("zoneguard.exchange.test")
    log.info("signing with %s", "k3y-SECRET-value", extra={"header": "Bearer k3y-SECRET-value"})
    try:
        raise RuntimeError("auth failed for k3y-SECRET-value")
    except RuntimeError:
        log.exception("request failed")
    text = "\n".join(read_log(path))
    assert "k3y-SECRET-value" not in text
    assert "signing with ***" in text
    assert 'header="Bearer ***"' in text
    assert "RuntimeError: auth failed for ***" in text
    assert "sk" in text  # "task", "ask"... untouched


def test_a_secret_containing_another_is_masked_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    register_secret("abcd")
    register_secret("xxabcdxx")
    assert mask_secrets("1 xxabcdxx 2 abcd") == "1 *** 2 ***"


def test_the_file_rotates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_LOG_BYTES", 2_000)
    path = setup_worker_logging(tmp_path)
    log = logging.getLogger("zoneguard.worker.test")
    for i in range(100):
        log.info("line %d %s", i, "x" * 50)
    assert (path.parent / "app.log.1").exists()
    assert path.stat().st_size <= 2_000
