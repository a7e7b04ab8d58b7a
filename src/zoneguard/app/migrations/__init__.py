"""Alembic migrations of the app's database (applied by ``zoneguard.app.db.migrate``)."""
