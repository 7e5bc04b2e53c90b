"""Who gets whom: pjsua2 callers queue through the IVR, pjsua2 agents answer, for each
strategy. Four callers and three agents: the fourth caller waits for the first agent free.

Each caller is placed once an agent has answered the one before (a pjsua2 worker can take
seconds to start on a loaded machine), and c1 talks 4 s less than c2 and c3, so which agent is
free first does not hang on how fast the workers came up."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerFactory
from tests.e2e.acd import (
    agent,
    ended_calls,
    queue,
    set_state,
    start_acd,
    until_answered,
    user_of,
)
from voice.pjsua.client import PjsuaListener, place_call

pytestmark = pytest.mark.slow

# How long c1..c4 stay on the line, counted from when the IVR answers them. c1..c3 reach an
# agent at once, and c1's is free again 4 s before the others; c4 waits about 8 s for that
# agent and talks for the rest.
STAYS = (8.0, 12.0, 12.0, 14.0)

# strategy, the agents' Spanish levels (None: not in the queue's skill), the order they log in
# (the first one has been idle longest), and who should get callers c1..c4.
CASES: list[tuple[str, dict[str, int | None], list[str], list[str]]] = [
    # Longest idle: in login order; c4 waits for c1's agent, the first one free again.
    ("longest-idle", {"a1": None, "a2": None, "a3": None}, ["a3", "a1", "a2"],
     ["a3", "a1", "a2", "a3"]),
    # Round robin: in id order whatever the idle times.
    ("round-robin", {"a1": None, "a2": None, "a3": None}, ["a3", "a1", "a2"],
     ["a1", "a2", "a3", "a1"]),
    # Skills-weighted (the queue needs Spanish): highest level first; a4, without Spanish and
    # idle longest, is never offered a call.
    ("skills-weighted", {"a1": 3, "a2": 9, "a3": 6, "a4": None}, ["a4", "a3", "a1", "a2"],
     ["a2", "a3", "a1", "a2"]),
]


@pytest.mark.parametrize(("strategy", "levels", "login_order", "expected"), CASES,
                         ids=[c[0] for c in CASES])
async def test_callers_reach_agents_as_the_strategy_says(
    server_factory: ServerFactory, tmp_path: Path, strategy: str,
    levels: dict[str, int | None], login_order: list[str], expected: list[str],
) -> None:
    skills_needed = any(level is not None for level in levels.values())
    async with contextlib.AsyncExitStack() as stack:
        listeners: dict[str, PjsuaListener] = {}
        for agent_id in levels:
            listeners[agent_id] = await stack.enter_async_context(PjsuaListener())
        agents: list[dict[str, Any]] = []
        for agent_id, level in levels.items():
            skills = {"english": 5} if level is None else {"spanish": level, "english": 5}
            agents.append(agent(agent_id, listeners[agent_id].uri, ["q"], skills=skills))
        q = queue("q", strategy=strategy, skills=["spanish"] if skills_needed else [])
        server = await start_acd(server_factory, tmp_path, queues=[q], agents=agents,
                                 entry_queue="q")
        for agent_id in login_order:
            await set_state(server, agent_id, "available")
            await asyncio.sleep(0.3)

        async def caller(n: int, stay: float) -> None:
            result = await place_call(f"sip:100@{server.sip_target}", from_user=f"c{n}",
                                      duration=stay)
            assert result.connected, result

        calls = []
        for n, stay in enumerate(STAYS, start=1):
            calls.append(asyncio.ensure_future(caller(n, stay)))
            if n < len(STAYS):  # c1..c3 each reach an agent at once
                await until_answered(server, "q", n)
        await asyncio.gather(*calls)
        got: dict[str, str] = {}
        for agent_id, listener in listeners.items():
            for ended in await ended_calls(listener):
                got[user_of(ended.from_)] = agent_id
        assert [got.get(f"c{n}") for n in range(1, 5)] == expected, got
