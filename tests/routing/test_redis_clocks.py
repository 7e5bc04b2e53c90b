"""Two nodes on two machines do not share a monotonic clock (issue 14): the Redis store keeps
times on the wall clock and puts them back on each node's own monotonic clock. Node B's
clock is made to run 1,000 s behind node A's for the same instant: an agent's move made by A
at A's 500 s is seen by B at its own -500 s (so B's time-in-state is A's), a caller A queued
at 600 s waits on B since -400 s, and a dead node's agents freed by B count from B's now."""

from __future__ import annotations

from routing.model import AgentState, QueueEntry
from tests.helpers.redis_server import redis_stores

BEHIND = 1000.0  # node B's monotonic clock reads this much less than node A's


async def test_times_read_the_same_instant_on_nodes_whose_clocks_differ() -> None:
    async with redis_stores(2) as ([a, b], _):
        b.shift = a.shift + BEHIND
        await a.transition("ana", AgentState.AVAILABLE, now=500.0)
        seen_by_a = await a.agent_status("ana")
        seen_by_b = await b.agent_status("ana")
        assert (seen_by_a.since, seen_by_a.idle_since) == (500.0, 500.0)
        assert (seen_by_b.since, seen_by_b.idle_since) == (-500.0, -500.0)
        assert (await b.statuses())["ana"].since == -500.0
        await a.add_entry(QueueEntry("e1", "sales", 1, 600.0, 1_700_000_000.0))
        [line] = await b.entries("sales")
        assert line.enqueued_mono == -400.0 and line.enqueued_wall == 1_700_000_000.0
        assert (await b.entry("e1")) == line
        # B moves the agent at its own 700 s: A reads it at 1,700 s.
        moved = await b.transition("ana", AgentState.BREAK, now=700.0,
                                   expect=frozenset({AgentState.AVAILABLE}))
        assert moved is not None and moved.since == 700.0
        assert (await a.agent_status("ana")).since == 1700.0
        # A never-moved agent stays "never", whatever the node.
        assert (await b.agent_status("nobody")).since == 0.0
