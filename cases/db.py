"""Engines and schema migrations for the case store.

SQLite (the embedded default) is opened in WAL mode with `synchronous=FULL`: a commit returns
only after the WAL is on disk, so an acknowledged write survives `kill -9` and power loss
alike. Transcript writes are a few per second per call, well within one fsync each. The file
holds password hashes, token digests and personal data: it is created 0600 before SQLite
opens it (SQLite gives its -wal, -shm and -journal files the database's mode), and an
existing one others can read is tightened. `private_dir` does the same for the data directory.
PostgreSQL is reached through psycopg 3.

`DbWorker` is what each store (cases, routing, users) opens: an engine migrated to head and
the thread pool its blocking calls run on, so the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import stat
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

T = TypeVar("T")

log = logging.getLogger(__name__)

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")

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


def private_dir(path: Path) -> bool:
    """Make `path` (and missing parents) a directory only this user can enter, 0700.

    An existing one that group or others can use is tightened: True when that was needed, so
    the caller can say so (the files in it were readable until now)."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & 0o077:
        return False
    os.chmod(path, mode & ~0o077)
    return True


def _private_sqlite_file(database: str) -> None:
    """Create the SQLite file 0600 if missing (an empty file is an empty database) and
    tighten it and its companions if others can read them."""
    path = Path(database)
    if path.parent.is_dir():
        # Only a file that is not there yet is opened: closing a descriptor of a database
        # this process already has open would drop SQLite's POSIX locks on it (seen: a
        # second engine's check let the CLI's writes go unseen by the server's first).
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    for suffix in _SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        try:
            mode = stat.S_IMODE(companion.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            os.chmod(companion, mode & ~0o077)
            log.warning("%s was readable by others; made it private (0600)", companion)


def make_engine(url: str, *, pool_size: int = 4) -> Engine:
    """A sync engine for `url` with the per-backend settings described above."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if parsed.database in (None, "", ":memory:"):
            # One shared connection, or every pool checkout would see a new empty database.
            kwargs["poolclass"] = StaticPool
        elif not parsed.database.startswith("file:"):
            _private_sqlite_file(parsed.database)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_size=pool_size, max_overflow=0, pool_pre_ping=True)


def alembic_config(
    engine: Engine | None = None, *, target_metadata: Sequence[MetaData] | None = None
) -> Config:
    """Alembic configuration pointing at `cases/migrations`, without any ini file.

    `target_metadata` is only for comparing the database with the models (`alembic check`,
    autogenerate): the tables of every package sharing the database, which only the
    composition root knows (`centralita.schema.alembic_config`). Upgrades need none.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if target_metadata is not None:
        config.attributes["target_metadata"] = list(target_metadata)
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


class DbWorker:
    """An engine and the thread pool its blocking work runs on, owned by one store.

    Create with `await DbWorker.open_migrated(url, ...)`; `await close()` when done. `run`
    refuses once closed and turns a SQLAlchemy error into the store's own `error(message)`
    naming the error's class only: SQLAlchemy's message quotes the statement's parameters
    (transcript text, phone numbers, password hashes), which stay out of logs (STYLE.md §12).
    The cause stays chained.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        workers: int,
        thread_name: str,
        name: str,
        error: Callable[[str], Exception],
    ) -> None:
        self.engine = engine
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=thread_name)
        self._name = name
        self._error = error
        self._closed = False

    @classmethod
    async def open_migrated(
        cls,
        url: str,
        *,
        workers: int,
        thread_name: str,
        name: str,
        error: Callable[[str], Exception],
        hide_parameters: bool = False,
    ) -> DbWorker:
        """Connect to `url` with `workers` connections and threads, and migrate to head.

        On SQLite one thread whatever `workers` says: it takes one writer at a time anyway,
        and one thread avoids lock waits entirely. `hide_parameters` keeps statement
        parameters out of the chained SQLAlchemy errors too.
        """
        engine = make_engine(url, pool_size=workers)
        if hide_parameters:
            engine.hide_parameters = True
        if engine.dialect.name == "sqlite":
            workers = 1
        db = cls(engine, workers=workers, thread_name=thread_name, name=name, error=error)
        try:
            await db.run(upgrade, engine)
        except BaseException:
            await db.close()
            raise
        return db

    @property
    def closed(self) -> bool:
        """True once `close()` was called: `run` then refuses."""
        return self._closed

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on the pool; raises `error` if closed or if the database failed."""
        if self._closed:
            raise self._error(f"{self._name} is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, functools.partial(fn, *args))
        except SQLAlchemyError as exc:
            raise self._error(f"database error: {type(exc).__name__}") from exc

    async def close(self) -> None:
        """Finish queued work, then release connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self._pool.shutdown(wait=True)
        self.engine.dispose()
