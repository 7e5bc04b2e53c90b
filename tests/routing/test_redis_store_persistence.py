"""RedisRoutingStore with the database underneath (SQLite and PostgreSQL): callbacks written
through, finished ones only in the database, records and configs there, and an empty Redis
(a Redis restart: this one keeps nothing on disk) filled again from the database."""

from __future__ import annotations

import pytest

from routing.model import Callback, CallbackState, QueueRecord
from routing.persistence import SqlRoutingPersistence
from routing.redis_store import RedisRoutingStore
from routing.store import AlreadyStored
from tests.helpers.databases import database_fixtures
from tests.helpers.redis_server import redis_stores

pg_database, db_url = database_fixtures("centralita_redis_routing", "routing.db",
                                        scope="module")
WAITING = frozenset({CallbackState.WAITING})


def callback(cb_id: str, seq: int, **kw: object) -> Callback:
    return Callback(id=cb_id, queue="sales", number="+34600111222", seq=seq,
                    created_wall=1000.0 + seq, **kw)  # type: ignore[arg-type]


async def with_db(open_store: object, url: str, node: str) -> RedisRoutingStore:
    db = await SqlRoutingPersistence.open(url, now=lambda: 1_700_000_000.0)
    store: RedisRoutingStore = open_store(node_id=node, persistence=db)  # type: ignore[operator]
    return store


async def test_callbacks_records_and_configs_reach_the_database(db_url: str) -> None:
    async with redis_stores(0) as (_, open_store):
        store = await with_db(open_store, db_url, "a")
        assert await store.load() == []
        await store.add_callback(callback("cb1", 5))
        await store.add_callback(callback("cb2", 3))
        done = callback("cb1", 5, state=CallbackState.DONE, attempts=1, last_result="answered")
        assert await store.update_callback(done, expect=WAITING) == done
        # Finished: out of Redis, still readable (from the database), its id still taken.
        assert not await store.redis.hexists(store.prefix + "callbacks", "cb1")
        assert await store.callback("cb1") == done
        assert [cb.id for cb in await store.callbacks()] == ["cb2", "cb1"]
        assert await store.update_callback(done, expect=WAITING) is None
        with pytest.raises(AlreadyStored):
            await store.add_callback(callback("cb1", 9))
        await store.add_record(QueueRecord("r1", "sales", "call", 100.0))
        await store.put_queue("sales", {"strategy": "round-robin"})

        # Another connection to the same database sees all of it.
        check = await SqlRoutingPersistence.open(db_url, now=lambda: 0.0)
        try:
            assert (await check.callback("cb1")) == done
            assert [cb.id for cb in await check.load_pending()] == ["cb2"]
            assert [r.id for r in await check.records(None, None, None, None)] == ["r1"]
        finally:
            await check.close()


async def test_an_empty_redis_is_filled_again_from_the_database(db_url: str) -> None:
    async with redis_stores(0) as (_, open_store):
        store = await with_db(open_store, db_url, "a")
        await store.load()
        await store.add_callback(callback("cb1", 40))
        await store.add_callback(callback("cb2", 41))
        await store.update_callback(callback("cb2", 41, state=CallbackState.DIALING))
    # Redis lost everything (another prefix: the same as a restarted Redis).
    async with redis_stores(0) as (_, open_store):
        first = await with_db(open_store, db_url, "b")
        second = await with_db(open_store, db_url, "c")
        pending = await first.load()
        assert [(cb.id, cb.state) for cb in pending] == [
            ("cb1", CallbackState.WAITING), ("cb2", CallbackState.WAITING)]
        assert pending[1].last_result == "interrupted"
        assert await second.load() == []  # brought in once, owned by the first node
        # New arrivals line up behind the restored callbacks.
        assert await second.next_seq() > 41
