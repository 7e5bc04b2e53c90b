"""MemoryRoutingStore written through to SQLite and PostgreSQL: what survives a restart,
including `kill -9` of the process that wrote it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from cases.db import make_engine
from routing.model import Callback, CallbackState, QueueRecord
from routing.persistence import SqlRoutingPersistence
from routing.store import AlreadyStored, MemoryRoutingStore, NotStored, StoreError
from tests.helpers.databases import database_fixtures

ROOT = Path(__file__).resolve().parents[2]
NUMBER = "+34600111222"
WAITING = frozenset({CallbackState.WAITING})


pg_database, db_url = database_fixtures("centralita_routing", "routing.db", scope="module")


class Wall:
    """A wall clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


async def open_store(url: str, *, seq_block: int = 100) -> MemoryRoutingStore:
    store = MemoryRoutingStore(await SqlRoutingPersistence.open(url, now=Wall()), seq_block=seq_block)
    await store.load()
    return store


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[MemoryRoutingStore]:
    opened = await open_store(db_url)
    try:
        yield opened
    finally:
        await opened.close()


def callback(cb_id: str, seq: int, **kw: object) -> Callback:
    return Callback(id=cb_id, queue="sales", number=NUMBER, seq=seq, created_wall=10.0 + seq,
                    skills=("es", "billing"), **kw)  # type: ignore[arg-type]


async def test_callbacks_survive_reopen(db_url: str) -> None:
    store = await open_store(db_url)
    await store.add_callback(callback("cb1", 5, priority=2, case_id=42, call_id="call-1"))
    await store.add_callback(callback("cb2", 3))
    await store.add_callback(callback("cb3", 4))
    done = callback("cb3", 4, state=CallbackState.DONE, attempts=1, last_result="answered")
    assert await store.update_callback(done, expect=WAITING) is not None
    await store.close()

    store = await open_store(db_url)
    try:
        pending = await store.load()
        assert [cb.id for cb in pending] == ["cb2", "cb1"]
        assert pending[1] == callback("cb1", 5, priority=2, case_id=42, call_id="call-1")
        # Finished ones are not in memory any more but still readable.
        assert await store.callback("cb3") == done
        assert [cb.id for cb in await store.callbacks()] == ["cb2", "cb3", "cb1"]
        assert [cb.id for cb in await store.callbacks({CallbackState.DONE})] == ["cb3"]
        assert await store.callbacks(queue="support") == []
        with pytest.raises(AlreadyStored):
            await store.add_callback(callback("cb3", 9))  # finished, yet its id is taken
    finally:
        await store.close()


async def test_update_of_unknown_callback(store: MemoryRoutingStore) -> None:
    with pytest.raises(NotStored):
        await store.update_callback(callback("nope", 1))


async def test_finished_callback_compare_and_set_goes_to_database(db_url: str) -> None:
    store = await open_store(db_url)
    await store.add_callback(callback("cb1", 1))
    await store.update_callback(callback("cb1", 1, state=CallbackState.FAILED, attempts=3))
    await store.close()
    store = await open_store(db_url)
    try:
        retry = callback("cb1", 1, attempts=0)
        assert await store.update_callback(retry, expect=frozenset({CallbackState.DONE})) is None
        assert await store.update_callback(retry, expect=frozenset({CallbackState.FAILED}))
        assert [cb.id for cb in await store.callbacks(WAITING)] == ["cb1"]
    finally:
        await store.close()


async def test_two_processes_compare_and_set_one_callback(db_url: str) -> None:
    first, second = await open_store(db_url), await open_store(db_url)
    try:
        await first.add_callback(callback("cb1", 1))
        await second.load()  # the second node sees it now
        dialing = callback("cb1", 1, state=CallbackState.DIALING, attempts=1)
        assert await first.update_callback(dialing, expect=WAITING) is not None
        # The second one's memory still says WAITING; the database decides.
        assert await second.update_callback(dialing, expect=WAITING) is None
        assert await second.callback("cb1") == dialing
    finally:
        await first.close()
        await second.close()


async def test_records_survive_reopen_and_filter(db_url: str) -> None:
    store = await open_store(db_url)
    await store.add_record(QueueRecord("r2", "sales", "callback", 200.0, agent_id="bob"))
    await store.add_record(QueueRecord("r1", "sales", "call", 100.0))
    await store.add_record(QueueRecord("r3", "support", "call", 300.0, agent_id="ann"))
    answered = QueueRecord("r1", "sales", "call", 100.0, outcome="answered", left_wall=105.0,
                           answered_wall=106.0, ended_wall=160.5, wrapup_s=10.0, agent_id="ann")
    await store.update_record(answered)
    with pytest.raises(AlreadyStored):
        await store.add_record(QueueRecord("r1", "sales", "call", 1.0))
    with pytest.raises(NotStored):
        await store.update_record(QueueRecord("r9", "sales", "call", 1.0))
    await store.close()

    store = await open_store(db_url)
    try:
        assert [r.id for r in await store.records()] == ["r1", "r2", "r3"]
        assert (await store.records(queue="sales", until=150.0)) == [answered]
        assert [r.id for r in await store.records(agent="ann")] == ["r1", "r3"]
        assert [r.id for r in await store.records(since=200.0)] == ["r2", "r3"]
        assert [r.id for r in await store.records(queue="sales", since=100.5, until=300.0)] == ["r2"]
    finally:
        await store.close()


async def test_configs_survive_reopen(db_url: str) -> None:
    store = await open_store(db_url)
    await store.put_queue("sales", {"strategy": "longest-idle", "skills": ["es"]})
    await store.put_queue("sales", {"strategy": "round-robin"})  # replaced
    await store.put_queue("support", {"max_wait": 120.5})
    await store.put_agent("ann", {"skills": {"es": 7}, "queues": ["sales"]})
    await store.put_agent("bob", {})
    assert await store.delete_agent("bob")
    assert not await store.delete_agent("bob")
    await store.close()

    store = await open_store(db_url)
    try:
        assert await store.queue_configs() == {
            "sales": {"strategy": "round-robin"}, "support": {"max_wait": 120.5}
        }
        assert await store.agent_configs() == {"ann": {"skills": {"es": 7}, "queues": ["sales"]}}
    finally:
        await store.close()


async def test_seq_continues_above_the_reserved_block(db_url: str) -> None:
    store = await open_store(db_url, seq_block=3)
    assert [await store.next_seq() for _ in range(4)] == [1, 2, 3, 4]  # two blocks: 1-3, 4-6
    await store.close()
    store = await open_store(db_url, seq_block=3)
    try:
        assert await store.next_seq() == 7
    finally:
        await store.close()


async def test_concurrent_seq_is_unique_across_stores(db_url: str) -> None:
    first, second = await open_store(db_url, seq_block=5), await open_store(db_url, seq_block=5)
    try:
        values = await asyncio.gather(*(s.next_seq() for s in (first, second) for _ in range(12)))
        assert len(set(values)) == 24
    finally:
        await first.close()
        await second.close()


async def test_database_errors_are_typed_and_hide_the_number(db_url: str) -> None:
    store = await open_store(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            # The insert (whose parameters hold the number) fails, not the check before it.
            conn.execute(text("DROP TABLE routing_callbacks"))
            conn.execute(text("CREATE TABLE routing_callbacks (id VARCHAR(64) PRIMARY KEY)"))
        with pytest.raises(StoreError) as caught:
            await store.add_callback(callback("cb1", 1))
        assert NUMBER not in str(caught.value)
        assert NUMBER not in str(caught.value.__cause__)
        assert await store.callbacks(WAITING) == []  # pending ones are read from memory
    finally:
        engine.dispose()
        await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.next_seq()


# Adds two callbacks (one then DIALING) and says so, then waits to be killed.
KILLED_WRITER = """
import asyncio, sys, time
from routing.model import Callback, CallbackState
from routing.persistence import SqlRoutingPersistence
from routing.store import MemoryRoutingStore

async def main(url):
    store = MemoryRoutingStore(await SqlRoutingPersistence.open(url, now=time.time))
    await store.load()
    kept = Callback(id="kept", queue="sales", number="+34600111222",
                    seq=await store.next_seq(), created_wall=1.0)
    await store.add_callback(kept)
    dialing = Callback(id="dialing", queue="sales", number="+34600333444",
                       seq=await store.next_seq(), created_wall=2.0)
    await store.add_callback(dialing)
    dialing.state, dialing.attempts = CallbackState.DIALING, 1
    await store.update_callback(dialing, expect=frozenset({CallbackState.WAITING}))
    print(dialing.seq, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main(sys.argv[1]))
"""


async def test_kill_9_after_add_callback_loses_nothing(db_url: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", KILLED_WRITER, db_url, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
        assert line, "the writer exited before adding its callbacks"
        last_seq = int(line)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL

    store = await open_store(db_url)
    try:
        pending = {cb.id: cb for cb in await store.callbacks()}
        assert set(pending) == {"kept", "dialing"}
        assert pending["kept"].number == NUMBER
        # The dial died with the process: back in line, same place, attempt counted.
        back = pending["dialing"]
        assert (back.state, back.attempts, back.last_result, back.seq) == (
            CallbackState.WAITING, 1, "interrupted", last_seq
        )
        assert await store.next_seq() > last_seq
    finally:
        await store.close()
