"""The store half of bench/acd_dispatch.py (`--store`): whole dispatch passes against the
in-process store and `RedisRoutingStore`, with Redis round trips counted.

A pass here is what `routing.acd.Acd._dispatch` does for one queue: `statuses()`, the
line (`entries()`), the line's order (`order_entries`, the positions it announces),
`assign()`, and the pairs' reservations (`reserve`: one compare-and-set each, one store
call). After each timed pass the
reserved agents are freed again (not timed), so every repeat sees the same line.
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis

from routing.model import AgentConfig, AgentState, AgentStatus, QueueConfig, QueueEntry
from routing.redis_store import RedisRoutingStore
from routing.store import MemoryRoutingStore, RoutingStore
from routing.strategies import assign, order_entries

A = AgentState
Scenario = Callable[..., tuple[QueueConfig, list[QueueEntry],
                               dict[str, tuple[AgentConfig, AgentStatus]]]]


class CountingRedis(Redis):
    """A Redis client that counts the round trips it makes (a pipeline counts once)."""

    sent = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        CountingRedis.sent += 1
        return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        CountingRedis.sent += 1
        return super().pipeline(transaction, shard_hint)


async def fill(store: RoutingStore, line: list[QueueEntry],
               pool: dict[str, tuple[AgentConfig, AgentStatus]]) -> None:
    """Put the scenario's agents (free ones idle since their `idle_since`) and line in."""
    for agent_id, (_, status) in pool.items():
        await store.transition(agent_id, A.AVAILABLE, now=status.idle_since)
        if status.state is A.ON_CALL:
            await store.transition(agent_id, A.RESERVED, now=0.0, reserved_for="busy")
            await store.transition(agent_id, A.ON_CALL, now=0.0, active_delta=1)
    for entry in line:
        await store.add_entry(entry)


async def one_pass(store: RoutingStore, queue: QueueConfig,
                   configs: Sequence[AgentConfig]) -> list[tuple[str, str]]:
    """One dispatch pass as the engine makes it; returns the (entry, agent) reserved."""
    now = 1000.0
    statuses = await store.statuses()
    line = await store.entries(queue.name)
    order_entries(line, now=now, aging_per_s=queue.aging_per_s)
    raw = {a.id: statuses.get(a.id) or AgentStatus(a.id) for a in configs}
    agents = {a.id: (a, raw[a.id]) for a in configs}
    picks = [(candidate.agent.id, entry.id)
             for entry, candidate in assign(queue, line, agents, now=now, last=None)
             if raw[candidate.agent.id].active < candidate.agent.max_concurrent]
    reserved = await store.reserve(picks, now=now)
    return [(entry_id, agent_id) for (agent_id, entry_id), got in zip(picks, reserved,
                                                                        strict=True) if got]


async def free_again(store: RoutingStore, made: list[tuple[str, str]]) -> None:
    for _, agent_id in made:
        await store.transition(agent_id, A.AVAILABLE, now=500.0,
                               expect=frozenset({A.RESERVED}))


async def entry_life(store: RoutingStore) -> None:
    """One routed call's other store calls, as the engine makes them (the pass aside)."""
    entry = QueueEntry(uuid.uuid4().hex, "life", await store.next_seq(), 1.0, 1.0)
    await store.add_entry(entry)
    before = CountingRedis.sent
    await store.reserve([("life-agent", entry.id)], now=2.0)  # the pass's, counted there
    CountingRedis.sent = before
    await store.remove_entry(entry.id)
    await store.transition("life-agent", A.ON_CALL, now=3.0, expect=frozenset({A.RESERVED}),
                           active_delta=1)
    await store.transition("life-agent", A.WRAP_UP, now=4.0, expect=frozenset({A.ON_CALL}),
                           active_delta=-1)
    await store.transition("life-agent", A.AVAILABLE, now=5.0, expect=frozenset({A.WRAP_UP}))


async def run_store_bench(stores: Sequence[str], *, agents: int, entries: int, repeat: int,
                          redis_url: str, scenario: Scenario) -> int:
    print(f"{'store':<8}{'strategy':<16}{'free':>6}{'pairs':>7}{'ms/pass':>10}"
          f"{'trips/pass':>12}{'trips/pair':>12}  line")
    results: dict[tuple[str, str, int, bool], float] = {}
    for strategy in ("longest-idle", "skills-weighted"):
        for free, rare in ((0, False), (5, False), (agents // 2, False), (agents // 2, True)):
            queue, line, pool = scenario(agents, entries, free, strategy, rare=rare)
            configs = [config for config, _ in pool.values()]
            opened = {kind: _open(kind, redis_url)[0] for kind in stores}
            runs: dict[str, list[float]] = {kind: [] for kind in stores}
            trips: dict[str, int] = {}
            pairs: dict[str, int] = {}
            try:
                for store in opened.values():
                    await fill(store, line, pool)
                # Interleaved, so the machine's other load weighs on both stores alike.
                for _ in range(repeat):
                    for kind, store in opened.items():
                        before = CountingRedis.sent
                        start = time.perf_counter()
                        made = await one_pass(store, queue, configs)
                        runs[kind].append(time.perf_counter() - start)
                        trips[kind], pairs[kind] = CountingRedis.sent - before, len(made)
                        await free_again(store, made)
            finally:
                for kind, store in opened.items():
                    await _close(store, kind)
            for kind in stores:
                ms = statistics.median(runs[kind]) * 1000
                results[(kind, strategy, free, rare)] = ms
                redis = kind == "redis"
                per_pair = f"{trips[kind] / pairs[kind]:.2f}" if pairs[kind] and redis else "-"
                print(f"{kind:<8}{strategy:<16}{free:>6}{pairs[kind]:>7}{ms:>10.2f}"
                      f"{trips[kind] if redis else '-':>12}{per_pair:>12}  "
                      f"{'all need a skill only busy agents have' if rare else 'mixed'}")
    if set(stores) == {"memory", "redis"}:
        print("\nredis / memory, ms per pass (target: within 2x):")
        for (kind, strategy, free, rare), ms in results.items():
            if kind == "redis":
                base = results[("memory", strategy, free, rare)]
                print(f"  {strategy:<16} free {free:>4}{' rare' if rare else '     '}"
                      f"  {ms / base:5.2f}x")
    if "redis" in stores:
        store, _ = _open("redis", redis_url)
        try:
            await store.transition("life-agent", A.AVAILABLE, now=1.0)  # logged in before
            before = CountingRedis.sent
            await entry_life(store)
            life = CountingRedis.sent - before
        finally:
            await _close(store, "redis")
        print(f"\nRedis round trips for one routed entry's own steps: {life} (next_seq, "
              "add_entry, take, on call, wrap-up, available); plus its dispatch pass's 3 "
              "(statuses, line, reserve), shared by every entry that pass routes")
    return 0


def _open(kind: str, redis_url: str) -> tuple[RoutingStore, str]:
    if kind == "memory":
        return MemoryRoutingStore(), ""
    prefix = f"bench:{random.getrandbits(48):012x}:"
    return RedisRoutingStore(CountingRedis.from_url(redis_url), prefix=prefix,
                             node_id="bench"), prefix


async def _close(store: RoutingStore, kind: str) -> None:
    if kind == "redis":
        assert isinstance(store, RedisRoutingStore)
        await store.wipe()
    await store.close()
