"""The database: SQLAlchemy 2.x models, engine/session wiring, Alembic migrations."""
