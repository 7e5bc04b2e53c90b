"""`pg_database` and `db_url` fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL is the local server (see `tests.helpers.postgres`). One uniquely named database is
created per `scope` and dropped at its end; each test starts from an empty `public` schema in
it, so migrations run from nothing every time, as on SQLite. Without a reachable server the
PostgreSQL half of each test is skipped on a developer's run, and fails under CI=true
(tests/conftest.py turns every skip into a failure there): CI never passes without PostgreSQL.

`ServerDatabase` does the same for whole servers (`server_factory` in tests/conftest.py): one
fresh PostgreSQL database per server started, dropped when the test ends. `query_rows` reads
any of them, or a server's SQLite file, with one SQL text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import psycopg
import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from cases.db import normalize_url
from tests.helpers.postgres import (
    PG_HOST,
    PG_PORT,
    create_database,
    drop_database,
    empty_schema,
    url,
)

DatabaseKind = Literal["sqlite", "postgresql"]


def database_fixtures(
    prefix: str, sqlite_file: str, *, scope: Literal["session", "module"] = "session"
) -> tuple[Any, Any]:
    """The `pg_database` and `db_url` fixtures, to assign to those names in a conftest or a
    test module: `pg_database, db_url = database_fixtures("centralita_cases", "cases.db")`.

    `prefix` starts the PostgreSQL database's name; `sqlite_file` is the SQLite database's
    file name in the test's `tmp_path`.
    """

    @pytest.fixture(scope=scope)
    def pg_database() -> Iterator[str]:
        """The name of this scope's PostgreSQL database (skips if the server is unreachable:
        a failure under CI=true)."""
        try:
            name = create_database(prefix)
        except psycopg.OperationalError as exc:
            pytest.skip(f"PostgreSQL at {PG_HOST}:{PG_PORT} unreachable: {exc}")
        try:
            yield name
        finally:
            drop_database(name)

    @pytest.fixture(params=["sqlite", "postgresql"])
    def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
        """A URL to an empty database of each kind."""
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path}/{sqlite_file}"
        return empty_schema(request.getfixturevalue("pg_database"))

    return pg_database, db_url


class ServerDatabase:
    """Where the servers of one test keep their cases, routing state, recordings index and
    messages: `sqlite` (each server's own file in its data directory, the default) or
    `postgresql` (a fresh database per server on the local server, dropped by `drop_all`)."""

    def __init__(self, kind: DatabaseKind) -> None:
        self.kind: DatabaseKind = kind
        self._created: list[str] = []

    def config(self) -> dict[str, str]:
        """The config entries for one more server: none on SQLite, `cases_url` of a new empty
        database on PostgreSQL (skips if the server is unreachable: a failure under CI=true)."""
        if self.kind == "sqlite":
            return {}
        try:
            name = create_database("centralita_server")
        except psycopg.OperationalError as exc:
            pytest.skip(f"PostgreSQL at {PG_HOST}:{PG_PORT} unreachable: {exc}")
        self._created.append(name)
        return {"cases_url": url(name)}

    def drop_all(self) -> None:
        """Drop every database `config` created (connections still open are closed)."""
        while self._created:
            drop_database(self._created.pop())


@contextlib.contextmanager
def connected(database_url: str) -> Iterator[Connection]:
    """A connection to the database at `database_url` in a transaction committed at the end
    (to write rows as a server would); a fresh connection each time, so it sees what a server
    process committed."""
    engine = create_engine(normalize_url(database_url), poolclass=NullPool)
    try:
        with engine.begin() as db:
            yield db
    finally:
        engine.dispose()


def query_rows(database_url: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    """The rows of `sql` (named `:params`) in the database at `database_url`, as dicts."""
    with connected(database_url) as db:
        return [dict(row) for row in db.execute(text(sql), params).mappings()]
