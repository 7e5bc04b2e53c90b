"""Database fixtures: every store test runs on SQLite and on PostgreSQL
(`tests.helpers.databases`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from cases.events import InProcessBus
from cases.store import CaseStore
from tests.helpers.databases import database_fixtures

pg_database, db_url = database_fixtures("centralita_cases", "cases.db")


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
