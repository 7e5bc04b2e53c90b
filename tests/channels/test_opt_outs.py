"""The opt-out table on SQLite and PostgreSQL: the last keyword wins, per channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cases.errors import InvalidInput
from cases.opt_outs import OptOutStore
from tests.helpers.databases import database_fixtures

pg_database, db_url = database_fixtures("centralita_opt_outs", "cases.db")


async def test_stop_then_start_per_channel(db_url: str) -> None:
    times = iter(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i) for i in range(10))
    store = await OptOutStore.open(db_url, now=lambda: next(times))
    try:
        assert await store.state("sms", "+34612345678") is None
        assert not await store.stopped("sms", "+34612345678")
        stopped = await store.set_state("sms", "+34612345678", "stopped", "UNSUBSCRIBE")
        assert stopped.stopped and stopped.keyword == "UNSUBSCRIBE"
        assert await store.stopped("sms", "+34612345678")
        assert not await store.stopped("whatsapp", "+34612345678")
        started = await store.set_state("sms", "+34612345678", "started", "YES")
        assert not started.stopped and started.at > stopped.at
        assert not await store.stopped("sms", "+34612345678")
        with pytest.raises(InvalidInput):
            await store.set_state("email", "a@b.c", "stopped", "STOP")
        with pytest.raises(InvalidInput):
            await store.set_state("sms", "+34612345678", "paused", "STOP")
    finally:
        await store.close()
