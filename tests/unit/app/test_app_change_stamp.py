"""Every session factory stamps the change sequence the live feed follows (db/changes.py)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from zoneguard.app.db import changes


def stamps(sessions: sessionmaker[Session]) -> int:
    """How many times the stamp runs on one flush of these sessions."""
    with sessions() as session:
        return list(session.dispatch.before_flush).count(changes._stamp)


def test_every_new_session_factory_stamps_its_flushes() -> None:
    """Each Database makes its own sessionmaker; in one process (the app's tests, a second
    Database) a new one often reuses a collected one's id(), which SQLAlchemy's
    ``event.contains`` took for "already installed": about two in three were then left
    unstamped, and their commits never reached the live feed."""
    unstamped = 0
    for _ in range(300):
        sessions = sessionmaker()
        changes.install(sessions)
        unstamped += stamps(sessions) != 1
    assert unstamped == 0


def test_installing_twice_stamps_once() -> None:
    sessions = sessionmaker()
    changes.install(sessions)
    changes.install(sessions)
    assert stamps(sessions) == 1
