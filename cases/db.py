"""Engines and schema migrations for the case store.

SQLite (the embedded default) is opened in WAL mode with `synchronous=FULL`: a commit returns
only after the WAL is on disk, so an acknowledged write survives `kill -9` and power loss
alike. Transcript writes are a few per second per call, well within one fsync each.
PostgreSQL is reached through psycopg 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import StaticPool

MIGRATIONS = Path(__file__).with_name("migrations")

# Any constant works; it only has to be the same on every node sharing the database.
_PG_MIGRATION_LOCK = 0x63A5E5


def normalize_url(url: str) -> URL:
    """A SQLAlchemy URL; plain `postgresql://` means psycopg 3 (psycopg2 is not a dependency)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Another process (a second node, the CLI) may hold the write lock briefly.
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()


def make_engine(url: str, *, pool_size: int = 4) -> Engine:
    """A sync engine for `url` with the per-backend settings described above."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if parsed.database in (None, "", ":memory:"):
            # One shared connection, or every pool checkout would see a new empty database.
            kwargs["poolclass"] = StaticPool
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_size=pool_size, max_overflow=0, pool_pre_ping=True)


def alembic_config(engine: Engine | None = None) -> Config:
    """Alembic configuration pointing at `cases/migrations`, without any ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.set_main_option(
            "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (blocking: call it from a worker thread)."""
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several nodes starting together must not run the same migration twice.
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
