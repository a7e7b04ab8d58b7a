"""The worker's log lines cost one masking and one formatting for both handlers, and the
file's rotation is decided from what was written (no stat, seek or second format)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from zoneguard.worker import logs
from zoneguard.worker.logs import (
    KeyValueFormatter,
    SecretMaskingFilter,
    SizeCountingRotatingFileHandler,
    register_secret,
    setup_worker_logging,
    shutdown_worker_logging,
)


@pytest.fixture(autouse=True)
def isolated_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    monkeypatch.setattr(logs, "_secrets", ())
    yield
    shutdown_worker_logging()
    root.setLevel(level)


def test_a_record_is_masked_and_formatted_once_for_both_handlers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    register_secret("s3cr3t-key")
    formats: list[str] = []
    masks: list[str] = []
    base_format = logs.BaseKeyValueFormatter.format
    base_mask = logs.mask_secrets

    def counting_format(self: KeyValueFormatter, record: logging.LogRecord) -> str:
        formats.append(record.getMessage())
        return base_format(self, record)

    def counting_mask(text: str) -> str:
        masks.append(text)
        return base_mask(text)

    monkeypatch.setattr(logs.BaseKeyValueFormatter, "format", counting_format)
    monkeypatch.setattr(logs, "mask_secrets", counting_mask)
    path = setup_worker_logging(tmp_path)
    logging.getLogger("zoneguard.worker.test").info("key %s used", "s3cr3t-key")
    assert len(formats) == 1  # not once per handler, nor again for the rotation check
    filter_masks = [text for text in masks if "used" in text and "Z INFO" not in text]
    assert len(filter_masks) == 1  # the filter's masking, once for both handlers
    line = path.read_text(encoding="utf-8").splitlines()[-1]
    assert line.endswith("zoneguard.worker.test key *** used")
    assert capsys.readouterr().err.splitlines()[-1] == line


def test_rotation_follows_the_bytes_written_across_reopen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "MAX_LOG_BYTES", 5_000)
    path = setup_worker_logging(tmp_path)
    log = logging.getLogger("zoneguard.worker.test")
    for i in range(30):
        log.info("line %03d %s", i, "x" * 50)
    assert not (path.parent / "app.log.1").exists()
    size = path.stat().st_size
    shutdown_worker_logging()
    setup_worker_logging(tmp_path)  # a restart appends: the count starts from the file's size
    lines_to_fill = (5_000 - size) // 100 + 1
    for i in range(lines_to_fill + 1):
        log.info("line %03d %s", i, "y" * 50)
    assert (path.parent / "app.log.1").exists()
    assert (path.parent / "app.log.1").stat().st_size <= 5_000
    assert path.stat().st_size <= 5_000


def test_a_non_regular_log_target_is_never_rotated(tmp_path: Path) -> None:
    handler = SizeCountingRotatingFileHandler(Path(os.devnull), max_bytes=10, backup_count=1)
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(SecretMaskingFilter())
    try:
        logger = logging.getLogger("zoneguard.worker.devnull")
        logger.addHandler(handler)
        logger.propagate = False
        for _ in range(5):
            logger.warning("a line well over ten bytes")
        assert not Path(os.devnull + ".1").exists()
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        handler.close()
