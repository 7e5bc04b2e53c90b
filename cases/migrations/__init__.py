"""Alembic migrations of the case schema; `cases.db.upgrade` runs them at start."""
