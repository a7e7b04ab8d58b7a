"""Fixtures for the end-to-end tests (see e2e_harness)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from e2e_harness import CrashStack, Stack

__all__ = ["Stack", "crash", "stack"]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    built = Stack(tmp_path)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def crash(tmp_path: Path) -> AsyncIterator[CrashStack]:
    """Sim and receiver here, the worker as a child process that can be SIGKILLed."""
    built = CrashStack(tmp_path)
    try:
        yield built
    finally:
        await built.close()
