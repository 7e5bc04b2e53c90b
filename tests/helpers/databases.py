"""`pg_database` and `db_url` fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL is the local server (see `tests.helpers.postgres`). One uniquely named database is
created per `scope` and dropped at its end; each test starts from an empty `public` schema in
it, so migrations run from nothing every time, as on SQLite. Without a reachable server the
PostgreSQL half of each test is skipped on a developer's run, and fails under CI=true
(tests/conftest.py turns every skip into a failure there): CI never passes without PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import psycopg
import pytest

from tests.helpers.postgres import PG_HOST, PG_PORT, create_database, drop_database, empty_schema


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
