"""The store conformance suite: every behaviour of the `RoutingStore` interface, checked on
the in-process store and on Redis (a fresh key prefix per test, on the local server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from routing.model import (
    AgentState,
    AgentStateError,
    Callback,
    CallbackState,
    InvalidConfig,
    QueueEntry,
    QueueRecord,
)
from routing.redis_store import RedisRoutingStore
from routing.store import AlreadyStored, MemoryRoutingStore, NotStored, RoutingStore
from tests.helpers.redis_server import redis_stores

A = AgentState
FREE = frozenset({A.AVAILABLE})


def entry(entry_id: str, queue: str = "sales", seq: int = 1) -> QueueEntry:
    return QueueEntry(id=entry_id, queue=queue, seq=seq, enqueued_mono=1.0, enqueued_wall=1000.0)


def record(rec_id: str, queue: str, at: float, agent: str | None = None) -> QueueRecord:
    return QueueRecord(id=rec_id, queue=queue, kind="call", enqueued_wall=at, agent_id=agent)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RoutingStore]:
    """Each store kind, empty."""
    if request.param == "memory":
        yield MemoryRoutingStore()
        return
    async with redis_stores() as (stores, _):
        await stores[0].load()
        yield stores[0]


async def test_seq_counts_up_without_persistence(store: RoutingStore) -> None:
    assert [await store.next_seq() for _ in range(3)] == [1, 2, 3]


async def test_entries_by_queue_and_removed_once(store: RoutingStore) -> None:
    await store.add_entry(entry("e1", "sales", 1))
    await store.add_entry(entry("e2", "sales", 2))
    await store.add_entry(entry("e3", "support", 3))
    assert sorted(e.id for e in await store.entries("sales")) == ["e1", "e2"]
    assert [e.id for e in await store.entries("support")] == ["e3"]
    assert await store.entries("billing") == []
    with pytest.raises(AlreadyStored):
        await store.add_entry(entry("e1", "support"))

    removed = await store.remove_entry("e1")
    assert removed is not None and removed.queue == "sales"
    assert await store.remove_entry("e1") is None  # the second taker loses
    assert await store.entry("e1") is None
    assert [e.id for e in await store.entries("sales")] == ["e2"]
    got = await store.entry("e2")
    assert got is not None and got.seq == 2


async def test_returned_values_are_copies(store: RoutingStore) -> None:
    original = entry("e1")
    await store.add_entry(original)
    original.priority = 9
    (listed,) = await store.entries("sales")
    listed.priority = 7
    stored = await store.entry("e1")
    assert stored is not None and stored.priority == 0

    status = await store.transition("ann", A.AVAILABLE, now=5.0)
    assert status is not None
    status.state = A.ON_CALL
    assert (await store.agent_status("ann")).state is A.AVAILABLE


async def test_reads_again_see_each_change_and_not_the_last_readers_edits(
    store: RoutingStore,
) -> None:
    # The Redis store keeps what it decoded from one read to the next (only changed texts
    # are decoded again): a read must still show every change, and only the store's values.
    await store.transition("ann", A.AVAILABLE, now=5.0)
    await store.transition("bob", A.AVAILABLE, now=5.0)
    await store.add_entry(entry("e1", seq=1))
    await store.add_entry(entry("e2", seq=2))
    first, line = await store.statuses(), await store.entries("sales")
    first["ann"].active = 3
    line[0].priority = 5
    await store.transition("bob", A.BREAK, now=6.0, reason="lunch")
    await store.remove_entry("e1")
    await store.add_entry(entry("e3", seq=3))
    again = await store.statuses()
    assert (again["ann"].state, again["ann"].active, again["ann"].since) == (A.AVAILABLE, 0, 5.0)
    assert (again["bob"].state, again["bob"].reason, again["bob"].since) == (A.BREAK, "lunch", 6.0)
    assert sorted((e.id, e.priority) for e in await store.entries("sales")) == [
        ("e2", 0), ("e3", 0)]
    await store.remove_entry("e2")
    await store.remove_entry("e3")
    assert await store.entries("sales") == []


async def test_unknown_agent_is_offline_and_logs_in(store: RoutingStore) -> None:
    assert (await store.agent_status("ann")).state is A.OFFLINE
    assert await store.statuses() == {}
    status = await store.transition("ann", A.AVAILABLE, now=10.0, expect=frozenset({A.OFFLINE}))
    assert status is not None
    assert (status.state, status.since, status.idle_since) == (A.AVAILABLE, 10.0, 10.0)
    assert list(await store.statuses()) == ["ann"]


async def test_transition_compare_and_set(store: RoutingStore) -> None:
    await store.transition("ann", A.AVAILABLE, now=1.0)
    reserved = await store.transition("ann", A.RESERVED, now=2.0, expect=FREE, reserved_for="e1")
    assert reserved is not None and reserved.reserved_for == "e1"
    # Not AVAILABLE any more: nothing happens.
    assert await store.transition("ann", A.RESERVED, now=3.0, expect=FREE, reserved_for="e2") is None
    status = await store.agent_status("ann")
    assert (status.state, status.reserved_for, status.since) == (A.RESERVED, "e1", 2.0)

    on_call = await store.transition(
        "ann", A.ON_CALL, now=4.0, expect=frozenset({A.RESERVED}), active_delta=1
    )
    assert on_call is not None and (on_call.active, on_call.reserved_for) == (1, None)
    wrap = await store.transition("ann", A.WRAP_UP, now=9.0, active_delta=-1)
    assert wrap is not None and wrap.active == 0


async def test_concurrent_reservations_only_one_wins(store: RoutingStore) -> None:
    await store.transition("ann", A.AVAILABLE, now=1.0)

    async def reserve(entry_id: str) -> str | None:
        await asyncio.sleep(0)
        got = await store.transition(
            "ann", A.RESERVED, now=2.0, expect=FREE, reserved_for=entry_id
        )
        return None if got is None else entry_id

    results = await asyncio.gather(*(reserve(f"e{i}") for i in range(10)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert (await store.agent_status("ann")).reserved_for == winners[0]


async def test_illegal_move_raises_and_changes_nothing(store: RoutingStore) -> None:
    with pytest.raises(AgentStateError):
        await store.transition("ann", A.ON_CALL, now=1.0)
    assert await store.statuses() == {}
    await store.transition("ann", A.AVAILABLE, now=1.0)
    with pytest.raises(AgentStateError):
        await store.transition("ann", A.WRAP_UP, now=2.0, expect=FREE)
    assert (await store.agent_status("ann")).state is A.AVAILABLE


async def test_transition_argument_checks(store: RoutingStore) -> None:
    await store.transition("ann", A.AVAILABLE, now=1.0)
    with pytest.raises(ValueError, match="reserved_for"):
        await store.transition("ann", A.RESERVED, now=2.0)
    with pytest.raises(ValueError, match="reserved_for"):
        await store.transition("ann", A.BREAK, now=2.0, reserved_for="e1")
    with pytest.raises(ValueError, match="below 0"):
        await store.transition("ann", A.BREAK, now=2.0, active_delta=-1)
    status = await store.agent_status("ann")
    assert (status.state, status.active) == (A.AVAILABLE, 0)


async def test_break_reason_and_remove_agent(store: RoutingStore) -> None:
    await store.transition("ann", A.AVAILABLE, now=1.0)
    status = await store.transition("ann", A.BREAK, now=2.0, reason="lunch")
    assert status is not None and status.reason == "lunch"
    removed = await store.remove_agent("ann")
    assert removed is not None and removed.state is A.BREAK
    assert await store.remove_agent("ann") is None
    assert (await store.agent_status("ann")).state is A.OFFLINE


async def test_callbacks_compare_and_set_and_listing(store: RoutingStore) -> None:
    first = Callback(id="cb1", queue="sales", number="+34600111222", seq=7, created_wall=1.0)
    second = Callback(id="cb2", queue="support", number="+34600333444", seq=3, created_wall=2.0)
    await store.add_callback(first)
    await store.add_callback(second)
    with pytest.raises(AlreadyStored):
        await store.add_callback(first)
    assert [cb.id for cb in await store.load()] == ["cb2", "cb1"]  # seq order

    waiting = frozenset({CallbackState.WAITING})
    dialing = Callback(**{**first.__dict__, "state": CallbackState.DIALING, "attempts": 1})
    assert await store.update_callback(dialing, expect=waiting) is not None
    # A second dialer expecting WAITING loses.
    assert await store.update_callback(dialing, expect=waiting) is None
    done = Callback(**{**dialing.__dict__, "state": CallbackState.DONE})
    assert await store.update_callback(done, expect=frozenset({CallbackState.DIALING}))

    assert [cb.id for cb in await store.callbacks({CallbackState.WAITING})] == ["cb2"]
    assert [cb.id for cb in await store.callbacks(queue="sales")] == ["cb1"]
    assert [cb.id for cb in await store.callbacks()] == ["cb2", "cb1"]
    found = await store.callback("cb1")
    assert found is not None and (found.state, found.attempts) == (CallbackState.DONE, 1)
    assert await store.callback("nope") is None
    with pytest.raises(NotStored):
        await store.update_callback(Callback(id="nope", queue="q", number="1", seq=1, created_wall=0))


async def test_records_filtering(store: RoutingStore) -> None:
    await store.add_record(record("r3", "sales", 300.0, agent="bob"))
    await store.add_record(record("r1", "sales", 100.0, agent="ann"))
    await store.add_record(record("r2", "support", 200.0, agent="ann"))
    with pytest.raises(AlreadyStored):
        await store.add_record(record("r1", "sales", 100.0))

    assert [r.id for r in await store.records()] == ["r1", "r2", "r3"]
    assert [r.id for r in await store.records(queue="sales")] == ["r1", "r3"]
    assert [r.id for r in await store.records(agent="ann")] == ["r1", "r2"]
    assert [r.id for r in await store.records(since=100.0, until=300.0)] == ["r1", "r2"]
    assert [r.id for r in await store.records(queue="sales", agent="ann", since=150.0)] == []

    answered = record("r1", "sales", 100.0, agent="ann")
    answered.outcome, answered.answered_wall = "answered", 110.0
    await store.update_record(answered)
    (got,) = await store.records(queue="sales", until=200.0)
    assert (got.outcome, got.answered_wall) == ("answered", 110.0)
    with pytest.raises(NotStored):
        await store.update_record(record("r9", "sales", 1.0))
    with pytest.raises(ValueError, match="outcome"):
        await store.update_record(QueueRecord("r1", "sales", "call", 100.0, outcome="lost"))
    with pytest.raises(ValueError, match="kind"):
        await store.add_record(QueueRecord("r8", "sales", "chat", 100.0))


async def test_configs_are_json_copies(store: RoutingStore) -> None:
    skills = ["es"]
    config = {"strategy": "round-robin", "skills": skills}
    await store.put_queue("sales", config)
    skills.append("en")
    await store.put_agent("ann", {"skills": {"es": 5}})
    assert await store.queue_configs() == {"sales": {"strategy": "round-robin", "skills": ["es"]}}
    assert await store.agent_configs() == {"ann": {"skills": {"es": 5}}}
    with pytest.raises(InvalidConfig, match="queue bad"):
        await store.put_queue("bad", {"when": object()})
    assert await store.delete_queue("sales")
    assert not await store.delete_queue("sales")
    assert await store.queue_configs() == {}


async def test_release_reservation_frees_only_that_entrys_agents(store: RoutingStore) -> None:
    for agent in ("ann", "bob", "cid"):
        await store.transition(agent, A.AVAILABLE, now=1.0)
    await store.transition("ann", A.RESERVED, now=2.0, expect=FREE, reserved_for="e1")
    await store.transition("bob", A.RESERVED, now=2.0, expect=FREE, reserved_for="e2")
    (released,) = await store.release_reservation("e1", now=3.0)
    assert released.agent_id == "ann"
    assert (released.state, released.reserved_for, released.idle_since) == (A.AVAILABLE, None, 3.0)
    assert await store.release_reservation("e1", now=4.0) == []  # done already
    assert (await store.agent_status("bob")).reserved_for == "e2"
    # Ann reserved again for another entry: withdrawing e1 late must not free her.
    await store.transition("ann", A.RESERVED, now=5.0, expect=FREE, reserved_for="e3")
    assert await store.release_reservation("e1", now=6.0) == []
    assert (await store.agent_status("ann")).reserved_for == "e3"
    # An agent no longer reserved (on the call) is not released either.
    await store.transition("bob", A.ON_CALL, now=7.0, expect=frozenset({A.RESERVED}),
                           active_delta=1)
    assert await store.release_reservation("e2", now=8.0) == []
    assert (await store.agent_status("bob")).state is A.ON_CALL
    # Two agents reserved for one entry (two nodes' dispatchers): both freed.
    await store.transition("cid", A.RESERVED, now=9.0, expect=FREE, reserved_for="e3")
    released_both = await store.release_reservation("e3", now=10.0)
    assert sorted(s.agent_id for s in released_both) == ["ann", "cid"]
    assert {(await store.agent_status(a)).state for a in ("ann", "cid")} == {A.AVAILABLE}


async def test_transition_expecting_a_reservation_for_an_entry(store: RoutingStore) -> None:
    await store.transition("ann", A.AVAILABLE, now=1.0)
    await store.transition("ann", A.RESERVED, now=2.0, expect=FREE, reserved_for="e1")
    reserved = frozenset({A.RESERVED})
    assert await store.transition("ann", A.ON_CALL, now=3.0, expect=reserved,
                                  expect_for="e2", active_delta=1) is None
    assert (await store.agent_status("ann")).reserved_for == "e1"
    on_call = await store.transition("ann", A.ON_CALL, now=3.0, expect=reserved,
                                     expect_for="e1", active_delta=1)
    assert on_call is not None and (on_call.state, on_call.active) == (A.ON_CALL, 1)


async def test_concurrent_withdraw_and_reserve_never_free_a_new_reservation(
        store: RoutingStore) -> None:
    """The old `_withdraw` read every status, then released: between the two a new
    reservation could be released by mistake. Interleaved many times, it never is."""
    for round_ in range(20):
        agent = f"a{round_}"
        await store.transition(agent, A.AVAILABLE, now=1.0)
        await store.transition(agent, A.RESERVED, now=2.0, expect=FREE, reserved_for="old")

        async def free_and_rebook(agent: str) -> None:
            await store.transition(agent, A.AVAILABLE, now=3.0, expect=frozenset({A.RESERVED}))
            await store.transition(agent, A.RESERVED, now=3.0, expect=FREE, reserved_for="new")

        await asyncio.gather(free_and_rebook(agent), store.release_reservation("old", now=3.0))
        status = await store.agent_status(agent)
        # Whatever the interleaving, "new" is never released by the withdrawal of "old".
        if status.state is A.AVAILABLE:
            assert status.reserved_for is None
        else:
            assert (status.state, status.reserved_for) == (A.RESERVED, "new")
        assert await store.release_reservation("old", now=4.0) == []


async def test_entries_come_in_line_order(store: RoutingStore) -> None:
    await store.add_entry(QueueEntry("late", "sales", 9, 1.0, 1000.0))
    await store.add_entry(QueueEntry("vip", "sales", 12, 1.0, 1000.0, priority=2))
    await store.add_entry(QueueEntry("early", "sales", 3, 1.0, 1000.0, skills=("es",)))
    got = await store.entries("sales")
    assert sorted(e.id for e in got) == ["early", "late", "vip"]
    (early,) = [e for e in got if e.id == "early"]
    assert early == QueueEntry("early", "sales", 3, 1.0, 1000.0, skills=("es",))


async def test_watchers_told_of_each_move(store: RoutingStore) -> None:
    seen: list[tuple[str, A]] = []
    assert isinstance(store, MemoryRoutingStore | RedisRoutingStore)
    store.state_watchers.append(lambda s: seen.append((s.agent_id, s.state)))
    await store.transition("ann", A.AVAILABLE, now=1.0)
    await store.transition("ann", A.RESERVED, now=2.0, expect=FREE, reserved_for="e1")
    assert await store.transition("ann", A.BREAK, now=2.0, expect=FREE) is None
    await store.release_reservation("e1", now=3.0)
    assert seen == [("ann", A.AVAILABLE), ("ann", A.RESERVED), ("ann", A.AVAILABLE)]


async def test_reserve_many_at_once_each_its_own_compare_and_set(store: RoutingStore) -> None:
    for agent in ("ann", "bob", "cid"):
        await store.transition(agent, A.AVAILABLE, now=1.0)
    await store.transition("bob", A.BREAK, now=1.5, reason="lunch")
    got = await store.reserve([("ann", "e1"), ("bob", "e2"), ("cid", "e3"), ("dan", "e4")],
                              now=2.0)
    assert [None if s is None else (s.agent_id, s.state, s.reserved_for) for s in got] == [
        ("ann", A.RESERVED, "e1"), None, ("cid", A.RESERVED, "e3"), None]
    assert (await store.agent_status("bob")).state is A.BREAK
    assert (await store.agent_status("dan")).state is A.OFFLINE
    # Already reserved: a second pass (or node) gets nothing.
    assert await store.reserve([("ann", "e9")], now=3.0) == [None]
    assert await store.reserve([], now=3.0) == []
    (released,) = await store.release_reservation("e3", now=4.0)
    assert released.agent_id == "cid"


async def test_a_removed_agents_reservation_is_gone_with_it(store: RoutingStore) -> None:
    await store.transition("ann", A.AVAILABLE, now=1.0)
    await store.reserve([("ann", "e1")], now=2.0)
    removed = await store.remove_agent("ann")
    assert removed is not None and (removed.state, removed.reserved_for) == (A.RESERVED, "e1")
    assert await store.release_reservation("e1", now=3.0) == []
    assert await store.statuses() == {}
    assert (await store.agent_status("ann")).state is A.OFFLINE
