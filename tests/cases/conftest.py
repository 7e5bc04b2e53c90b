"""Database fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL is the local server (127.0.0.1:5432, trust auth, user postgres). One uniquely
named database is created per test session and dropped at the end; each test starts from an
empty `public` schema in it, so migrations run from nothing every time, as on SQLite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from cases.events import InProcessBus
from cases.store import CaseStore
from tests.helpers.postgres import (
    PG_HOST,
    PG_PORT,
    create_database,
    drop_database,
    empty_schema,
)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """The name of this session's PostgreSQL database (skips if the server is unreachable)."""
    try:
        name = create_database("centralita_cases")
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
        return f"sqlite:///{tmp_path}/cases.db"
    return empty_schema(request.getfixturevalue("pg_database"))


class FakeClock:
    """A UTC clock that moves only when told (one second per reading by default)."""

    def __init__(self, start: datetime | None = None, step: timedelta = timedelta(seconds=1)):
        self.current = start or datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
        self.step = step

    def __call__(self) -> datetime:
        value = self.current
        self.current += self.step
        return value


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bus() -> InProcessBus:
    return InProcessBus()


@pytest.fixture
async def store(db_url: str, clock: FakeClock, bus: InProcessBus) -> AsyncIterator[CaseStore]:
    """An open store on an empty database of each kind, closed after the test."""
    opened = await CaseStore.open(db_url, now=clock, bus=bus)
    try:
        yield opened
    finally:
        await opened.close()
