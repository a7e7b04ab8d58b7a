"""Fixtures of the app's integration tests (see app_harness)."""

from __future__ import annotations

from app_harness import amqp_dsn, database_url, fake_worker, pg_url, start_app

__all__ = ["amqp_dsn", "database_url", "fake_worker", "pg_url", "start_app"]
