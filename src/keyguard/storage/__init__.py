"""Database engine, ORM base and Alembic migrations (SQLite and PostgreSQL)."""
