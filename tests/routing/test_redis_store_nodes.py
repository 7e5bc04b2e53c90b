"""Several nodes on one Redis: shared line and agents, one counter, leases and takeover, and
a property test of random concurrent work from two nodes (no agent reserved twice, no entry
served twice). The single-store behaviours are in the conformance suite (test_store.py)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.model import AgentState, Callback, CallbackState, QueueEntry
from routing.redis_store import RedisRoutingStore
from routing.store import MemoryRoutingStore, RoutingStore, StoreError
from tests.helpers.redis_server import redis_stores

A = AgentState
FREE = frozenset({A.AVAILABLE})
RESERVED = frozenset({A.RESERVED})


def entry(entry_id: str, seq: int, queue: str = "sales", **kw: object) -> QueueEntry:
    return QueueEntry(id=entry_id, queue=queue, seq=seq, enqueued_mono=1.0,
                      enqueued_wall=1000.0, **kw)  # type: ignore[arg-type]


def callback(cb_id: str, seq: int, **kw: object) -> Callback:
    return Callback(id=cb_id, queue="sales", number="+34600111222", seq=seq,
                    created_wall=1000.0 + seq, **kw)  # type: ignore[arg-type]


async def test_nodes_share_the_line_agents_and_one_counter() -> None:
    async with redis_stores(2) as ([one, two], _):
        seqs = await asyncio.gather(*(s.next_seq() for _ in range(50) for s in (one, two)))
        assert sorted(seqs) == list(range(1, 101))  # one counter, no blocks, no gaps
        await one.add_entry(entry("e1", 5))
        await two.add_entry(entry("e0", 9, priority=1))
        assert [e.id for e in await two.entries("sales")] == ["e0", "e1"]  # priority first
        await one.transition("ann", A.AVAILABLE, now=1.0)
        wins = await asyncio.gather(*(
            s.transition("ann", A.RESERVED, now=2.0, expect=FREE, reserved_for=f"{s.node_id}-{i}")
            for i in range(10) for s in (one, two)))
        assert len([w for w in wins if w is not None]) == 1
        taken = await asyncio.gather(one.remove_entry("e1"), two.remove_entry("e1"))
        assert len([t for t in taken if t is not None]) == 1


async def test_a_dead_nodes_work_is_taken_over_once_its_lease_runs_out() -> None:
    async with redis_stores(0) as (_, open_store):
        dead = open_store(node_id="a", lease_ttl=0.3)
        survivor = open_store(node_id="b", lease_ttl=30)
        rival = open_store(node_id="c", lease_ttl=30)
        for store in (dead, survivor, rival):
            await store.load()
        await dead.add_entry(entry("call-1", 1))
        await dead.add_entry(entry("cb-cb1", 2, kind="callback", callback_id="cb1"))
        await survivor.add_entry(entry("call-2", 3))
        await dead.add_callback(callback("cb1", 2))
        await dead.update_callback(callback("cb1", 2, state=CallbackState.DIALING, attempts=1))
        await dead.add_callback(callback("cb2", 4))
        for agent in ("ann", "bob", "cid"):
            await dead.transition(agent, A.AVAILABLE, now=1.0)
        await dead.transition("ann", A.RESERVED, now=2.0, expect=FREE, reserved_for="call-1")
        await dead.transition("bob", A.RESERVED, now=2.0, expect=FREE, reserved_for="cb-cb1")
        await dead.transition("bob", A.ON_CALL, now=3.0, active_delta=1)
        await survivor.transition("cid", A.RESERVED, now=3.0, expect=FREE,
                                  reserved_for="call-2")

        assert await survivor.take_over_dead(now=4.0) == []  # its lease still runs
        await asyncio.sleep(0.5)  # no heartbeat: the lease runs out
        assert await survivor.dead_nodes() == ["a"]
        results = await asyncio.gather(survivor.take_over_dead(now=5.0),
                                       rival.take_over_dead(now=5.0))
        taken = [t for found in results for t in found]
        assert len(taken) == 1  # exactly one node wins the dead one
        (won,) = taken
        winner = survivor if results[0] else rival
        assert won.node == "a"
        assert sorted(e.id for e in won.entries) == ["call-1", "cb-cb1"]
        assert [e.id for e in await winner.entries("sales")] == ["call-2"]
        assert {cb.id: (cb.state, cb.last_result) for cb in won.callbacks} == {
            "cb1": (CallbackState.WAITING, "interrupted"), "cb2": (CallbackState.WAITING, None)}
        assert sorted(won.agents) == ["ann", "bob"]
        ann, bob, cid = [await winner.agent_status(a) for a in ("ann", "bob", "cid")]
        assert (ann.state, ann.reserved_for, ann.idle_since) == (A.AVAILABLE, None, 5.0)
        assert (bob.state, bob.active) == (A.WRAP_UP, 0)
        assert (cid.state, cid.reserved_for) == (A.RESERVED, "call-2")  # a live node's: kept
        assert await winner.dead_nodes() == []
        # The callbacks are the winner's now: its restart brings them back, the loser's not.
        assert sorted(cb.id for cb in await winner.load()) == ["cb1", "cb2"]
        assert await (rival if winner is survivor else survivor).load() == []


async def test_a_node_restarting_under_its_name_resumes_its_own_work() -> None:
    async with redis_stores(0) as (_, open_store):
        first = open_store(node_id="a")
        other = open_store(node_id="b")
        await first.load()
        await other.load()
        await first.add_callback(callback("cb1", 1))
        await first.add_entry(entry("cb-cb1", 1, kind="callback", callback_id="cb1"))
        await first.add_entry(entry("call-1", 2))
        await other.add_callback(callback("cb2", 3))
        await first.update_callback(callback("cb1", 1, state=CallbackState.DIALING))
        await first.close()  # killed: no clean leave

        again = open_store(node_id="a")
        (cb,) = await again.load()
        assert (cb.id, cb.state, cb.last_result) == ("cb1", CallbackState.WAITING, "interrupted")
        assert await again.entries("sales") == []  # its calls died; the engine re-lines cb1


async def test_redis_unreachable_is_a_store_error() -> None:
    store = RedisRoutingStore.from_url("redis://127.0.0.1:1/0", prefix="test:none:")
    with pytest.raises(StoreError, match="Redis"):
        await store.next_seq()
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.next_seq()


# -- the property: random concurrent work from two nodes ------------------------------------

AGENTS = ("a0", "a1", "a2", "a3")
OPS = st.lists(st.one_of(
    st.just(("enqueue", 0)),
    st.tuples(st.just("serve"), st.integers(0, 7)),
    st.tuples(st.just("withdraw"), st.integers(0, 7)),
    st.tuples(st.just("wrap"), st.integers(0, 3)),
    st.tuples(st.just("break"), st.integers(0, 3)),
    st.tuples(st.just("back"), st.integers(0, 3)),
), max_size=25)


@dataclass
class Ledger:
    """What the workers saw, checked as they go: asyncio runs one worker at a time between
    awaits, so this bookkeeping is exact."""

    holder: dict[str, str] = field(default_factory=dict)  # agent -> entry reserved for
    served: dict[str, str] = field(default_factory=dict)  # entry -> agent who took it
    mine: dict[str, list[str]] = field(default_factory=dict)  # worker -> its entries
    count: int = 0


async def worker(name: str, store: RoutingStore, ops: list[tuple[str, int]],
                 ledger: Ledger) -> None:
    rng = random.Random(name)
    mine = ledger.mine.setdefault(name, [])
    for op, arg in ops:
        await asyncio.sleep(0)
        if op == "enqueue":
            ledger.count += 1
            entry_id = f"{name}-{ledger.count}"
            await store.add_entry(entry(entry_id, await store.next_seq(),
                                        priority=rng.choice((0, 1))))
            mine.append(entry_id)
        elif op == "serve":
            line = await store.entries("sales")
            statuses = await store.statuses()
            free = sorted(a for a, s in statuses.items() if s.state is A.AVAILABLE)
            if not line or not free:
                continue
            target, agent = line[arg % len(line)], free[arg % len(free)]
            got = await store.transition(agent, A.RESERVED, now=2.0, expect=FREE,
                                         reserved_for=target.id)
            if got is None:
                continue
            assert agent not in ledger.holder, f"{agent} reserved twice"
            ledger.holder[agent] = target.id
            await asyncio.sleep(0)  # ringing
            if await store.remove_entry(target.id) is None:  # withdrawn or served elsewhere
                ledger.holder.pop(agent, None)
                await store.transition(agent, A.AVAILABLE, now=3.0, expect=RESERVED,
                                       expect_for=target.id)
                continue
            assert target.id not in ledger.served, f"{target.id} served twice"
            ledger.served[target.id] = agent
            ledger.holder.pop(agent, None)
            on_call = await store.transition(agent, A.ON_CALL, now=3.0, expect=RESERVED,
                                             expect_for=target.id, active_delta=1)
            assert on_call is not None, f"{agent}'s reservation for {target.id} was lost"
        elif op == "withdraw":
            if not mine:
                continue
            entry_id = mine.pop(arg % len(mine))
            if await store.remove_entry(entry_id) is not None:
                for agent, held in list(ledger.holder.items()):
                    if held == entry_id:
                        del ledger.holder[agent]
                await store.release_reservation(entry_id, now=3.0)
        elif op == "wrap":
            agent = AGENTS[arg]
            if await store.transition(agent, A.WRAP_UP, now=4.0, expect=frozenset({A.ON_CALL}),
                                      active_delta=-1):
                await store.transition(agent, A.AVAILABLE, now=5.0,
                                       expect=frozenset({A.WRAP_UP}))
        elif op == "break":
            await store.transition(AGENTS[arg], A.BREAK, now=4.0, expect=FREE, reason="coffee")
        elif op == "back":
            await store.transition(AGENTS[arg], A.AVAILABLE, now=5.0,
                                   expect=frozenset({A.BREAK}))


async def run_two_nodes(stores: list[RoutingStore], plans: list[list[tuple[str, int]]]) -> None:
    for agent in AGENTS:
        await stores[0].transition(agent, A.AVAILABLE, now=1.0)
    ledger = Ledger()
    # Two workers per node, all at once.
    # Every worker ends before a failure is raised: none writes after the keys are wiped.
    done = await asyncio.gather(*(worker(f"n{i % 2}w{i}", stores[i % 2], ops, ledger)
                                  for i, ops in enumerate(plans)), return_exceptions=True)
    for result in done:
        if isinstance(result, BaseException):
            raise result
    statuses = await stores[1].statuses()
    # Every offer finished: nobody is left reserved, and each served entry left the line.
    assert [a for a, s in statuses.items() if s.state is A.RESERVED] == []
    waiting = {e.id for e in await stores[0].entries("sales")}
    assert waiting.isdisjoint(ledger.served)
    on_call = {a for a, s in statuses.items() if s.state is A.ON_CALL}
    assert all(statuses[a].active == 1 for a in on_call)
    assert all(s.active == 0 for a, s in statuses.items() if a not in on_call)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans=st.lists(OPS, min_size=4, max_size=4))
def test_two_nodes_on_redis_never_double_reserve_or_double_serve(
        plans: list[list[tuple[str, int]]]) -> None:
    async def scenario() -> None:
        async with redis_stores(2) as (stores, _):
            await run_two_nodes(list(stores), plans)

    asyncio.run(scenario())


@settings(max_examples=40, deadline=None)
@given(plans=st.lists(OPS, min_size=4, max_size=4))
def test_the_same_work_on_the_memory_store(plans: list[list[tuple[str, int]]]) -> None:
    async def scenario() -> None:
        store = MemoryRoutingStore()
        await run_two_nodes([store, store], plans)

    asyncio.run(scenario())
