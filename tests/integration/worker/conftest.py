"""Fixtures of the worker's integration tests: receivers on 127.0.0.1 (see worker_http_recorder)."""

from __future__ import annotations

from worker_http_recorder import eventually, recorder, stopped_recorder

__all__ = ["eventually", "recorder", "stopped_recorder"]
