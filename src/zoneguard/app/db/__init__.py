"""The app's database: SQLAlchemy 2 models, the engine (SQLite or PostgreSQL), Alembic."""
