"""A supervisor's wallboard on node B shows a call in progress on node A (issue 14: a
supervisor sees every node).

Two `centralita serve` nodes share the routing state in Redis and the cases in one
PostgreSQL database. Agent a1 is a pjsua2 phone (its contact in the routing file); a pjsua2
caller reaches node A's queue and a1 answers: the call is node A's. The supervisor's
wallboard socket on node B has the call, marked as node A's, with a1 on it; once it ends it
leaves B's board too."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import ServerFactory
from tests.e2e.acd import agent, queue, set_state, start_acd, until_agent
from tests.helpers.postgres import create_database, drop_database, url
from tests.helpers.redis_server import REDIS_URL, new_prefix, require_redis
from tests.helpers.server import ServerProcess
from voice.pjsua.client import PjsuaListener, place_call
from web.supervisor.board import BoardDelta, apply

pytestmark = pytest.mark.slow


async def board_until(ws: aiohttp.ClientWebSocketResponse, board: dict[str, Any],
                      holds: Any, within: float = 20.0) -> dict[str, Any]:
    """Apply snapshots and deltas from the wallboard socket to `board` until `holds(board)`."""
    async with asyncio.timeout(within):
        while not holds(board):
            message = await ws.receive_json()
            if message.get("type") == "snapshot":
                board.clear()
                board.update(message["board"])
            elif message.get("type") == "delta":
                changed = apply(board, BoardDelta(message["changed"], message["removed"]))
                board.clear()
                board.update(changed)
    return board


async def test_node_bs_wallboard_shows_a_call_in_progress_on_node_a(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    await require_redis()
    prefix = new_prefix()
    database = create_database("boardnodes")
    try:
        async with PjsuaListener(duration=8.0) as phone:

            async def node(name: str) -> ServerProcess:
                return await start_acd(
                    server_factory, tmp_path, queues=[queue("q")],
                    agents=[agent("a1", phone.uri, ["q"])], entry_queue="q",
                    workdir_name=name, config={
                        "cases_url": url(database),
                        "routing": {"store": "redis", "redis_url": REDIS_URL,
                                    "key_prefix": prefix, "node_id": f"node-{name}"}})

            a = await node("a")
            b = await node("b")
            await set_state(a, "a1", "available")
            async with aiohttp.ClientSession(headers=b.auth_headers) as http, \
                    http.ws_connect(f"ws://127.0.0.1:{b.http_port}/api/supervisor/ws") as ws:
                board: dict[str, Any] = {}
                caller = asyncio.ensure_future(place_call(
                    f"sip:100@{a.sip_target}", from_user="612345678", duration=12.0))
                try:
                    await until_agent(a, "a1", "on_call")
                    await board_until(ws, board, lambda bd: any(
                        c.get("node") == "node-a" for c in bd.get("calls", {}).values()))
                    [call] = board["calls"].values()
                    assert call["agent"] == "a1" and call["queue"] == "q", call
                    assert board["agents"]["a1"]["call"] is not None
                    assert (await caller).connected
                    await board_until(ws, board, lambda bd: not bd.get("calls"), within=30.0)
                finally:
                    if not caller.done():
                        caller.cancel()
    finally:
        drop_database(database)
