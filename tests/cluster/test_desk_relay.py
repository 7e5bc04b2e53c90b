"""`centralita.desk_relay` between two nodes on the real Redis server, with recording hubs:
where each desk is, messages to a desk elsewhere, commands back to the node that owns the
offer or call, and a newer page elsewhere winning over an older one closing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from cases.redis_bus import RedisBus
from centralita.desk_relay import DeskRelay
from tests.helpers.redis_server import REDIS_URL, new_prefix, require_redis
from web.desk.protocol import Accept, Hangup, SetState, Wrapup


class Hub:
    """Records what the relay hands it."""

    def __init__(self) -> None:
        self.delivered: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.commands: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.replies: list[Callable[[dict[str, Any]], Awaitable[None]]] = []

    async def deliver(self, agent_id: str, message: dict[str, Any]) -> None:
        await self.delivered.put((agent_id, message))

    async def remote_command(self, agent_id: str, data: dict[str, Any],
                             reply: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self.replies.append(reply)
        await self.commands.put((agent_id, data))


@contextlib.asynccontextmanager
async def nodes() -> AsyncIterator[tuple[DeskRelay, Hub, DeskRelay, Hub]]:
    await require_redis()
    prefix = new_prefix()
    buses = [RedisBus.from_url(REDIS_URL, prefix=prefix + "bus:", node_id=n) for n in "ab"]
    relays = [DeskRelay(bus, key_prefix=prefix) for bus in buses]
    hubs = [Hub(), Hub()]
    for bus in buses:
        await bus.start()
    for relay, hub in zip(relays, hubs, strict=True):
        await relay.start(hub)
    try:
        yield relays[0], hubs[0], relays[1], hubs[1]
    finally:
        for relay in relays:
            await relay.close()
        for bus in buses:
            await bus.close()


async def until(check: Callable[[], bool], within: float = 3.0) -> None:
    """Poll `check` (the relay's view, changed by its reader task) until it holds."""
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 - nothing here to wait on but the other task
            await asyncio.sleep(0.02)


async def test_an_offer_goes_to_the_desks_node_and_its_answer_comes_back() -> None:
    async with nodes() as (a, a_hub, b, b_hub):
        await b.claim("ana")
        await until(lambda: a.node_of("ana") == "b")
        assert b.node_of("ana") is None  # here, not elsewhere
        assert await a.push("ana", {"type": "offer", "offer_id": "o1", "case_id": "pub"})
        agent, message = await asyncio.wait_for(b_hub.delivered.get(), 3)
        assert (agent, message["offer_id"]) == ("ana", "o1")
        # The desk on B answers: the accept belongs to A, a state change to B itself.
        accept = Accept("o1", "v=0 sdp")
        assert b.owner_of("ana", accept, local=False) == "a"
        assert b.owner_of("ana", SetState("available"), local=False) is None
        assert b.owner_of("ana", accept, local=True) is None
        await b.forward("a", "ana", accept)
        agent, data = await asyncio.wait_for(a_hub.commands.get(), 3)
        assert (agent, data) == ("ana", accept.to_json())
        # A's reply (an error, an answer) reaches the desk on B.
        await a_hub.replies[0]({"type": "answer_sdp", "offer_id": "o1", "sdp": "v=0"})
        _, answer = await asyncio.wait_for(b_hub.delivered.get(), 3)
        assert answer["type"] == "answer_sdp"


async def test_call_controls_follow_the_call_and_the_wrapup_the_last_call() -> None:
    async with nodes() as (a, _, b, b_hub):
        await b.claim("ana")
        await until(lambda: a.node_of("ana") == "b")
        assert b.owner_of("ana", Hangup(), local=False) is None  # no call known yet
        await a.push("ana", {"type": "call", "call_id": "c1", "phase": "connected"})
        await asyncio.wait_for(b_hub.delivered.get(), 3)
        assert b.owner_of("ana", Hangup(), local=False) == "a"
        await a.push("ana", {"type": "call", "call_id": "c1", "phase": "ended"})
        await asyncio.wait_for(b_hub.delivered.get(), 3)
        assert b.owner_of("ana", Hangup(), local=False) is None
        assert b.owner_of("ana", Wrapup("resolved", ""), local=False) == "a"


async def test_a_newer_page_elsewhere_wins_over_an_older_one_closing() -> None:
    async with nodes() as (a, _, b, _):
        await a.claim("ana")
        await until(lambda: b.node_of("ana") == "a")
        await b.claim("ana")  # the agent opened the desk on B too
        await until(lambda: a.node_of("ana") == "b")
        await a.release("ana")  # A's old page closes: B's stays the one
        await asyncio.sleep(0.3)
        assert a.node_of("ana") == "b" and b.node_of("ana") is None
        await b.release("ana")
        await until(lambda: a.node_of("ana") is None)
        assert not await a.push("ana", {"type": "state"})  # nowhere to send it


async def test_a_node_that_starts_later_knows_where_the_desks_are() -> None:
    async with nodes() as (a, _, b, _):
        await b.claim("ana")
        late = DeskRelay(RedisBus.from_url(REDIS_URL, prefix=a.bus.prefix, node_id="c"),
                         key_prefix=a._key.removesuffix("desks"))
        await late.bus.start()
        await late.start(Hub())
        try:
            assert late.node_of("ana") == "b"
        finally:
            await late.close()
            await late.bus.close()
