"""`kill -9` of the node an agent logged in through (issue 14): the agent is still logged in
and their desk reconnects to the survivor with its state, and no case data the dead node
acknowledged is lost.

Two `centralita serve` nodes share the routing state and the sessions in Redis and the cases
in one PostgreSQL database. Ana logs in through node A and opens her desk there (on a break).
A pjsua2 caller reaches node A's queue and hangs up; the case is shared with a colleague
through node A (201: acknowledged). Node A is killed with SIGKILL. Through node B, with the
same cookie, Ana is still logged in; her desk opens there and says she is on her break; the
case, its call and the share are all there."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp
import pytest

from tests.cluster.test_restart_presence import desk_hello
from tests.conftest import ServerFactory
from tests.e2e.acd import agent_status, queue, set_state, start_acd
from tests.e2e.api import get_json, send_json
from tests.e2e.test_desk_calls import PASSWORD, add_agent_user
from tests.helpers.postgres import create_database, drop_database, url
from tests.helpers.redis_server import REDIS_URL, new_prefix, require_redis
from tests.helpers.server import ServerProcess
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow


async def node(server_factory: ServerFactory, tmp_path: Path, name: str, prefix: str,
               database: str) -> ServerProcess:
    return await start_acd(
        server_factory, tmp_path, queues=[queue("support")],
        agents=[{"id": "ana", "name": "Ana", "queues": ["support"]}], entry_queue="support",
        workdir_name=name, config={
            "cases_url": url(database),
            "routing": {"store": "redis", "redis_url": REDIS_URL,
                        "key_prefix": prefix + "routing:", "node_id": f"node-{name}",
                        "lease_ttl": 3},
            "sessions": {"store": "redis", "redis_url": REDIS_URL,
                         "key_prefix": prefix + "sessions:"}})


async def test_a_killed_node_loses_no_login_no_state_and_no_acknowledged_case_data(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    await require_redis()
    prefix = new_prefix()
    database = create_database("nodekill")
    try:
        a = await node(server_factory, tmp_path, "a", prefix, database)
        b = await node(server_factory, tmp_path, "b", prefix, database)
        await add_agent_user(a, "ana")
        await add_agent_user(a, "bo")
        # unsafe: keep the cookies of an address (127.0.0.1), not only of a host name.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(f"{a.http_base}/api/login",
                                 json={"username": "ana", "password": PASSWORD}) as resp:
                assert resp.status == 200, await resp.text()
            desk = await http.ws_connect(f"ws://127.0.0.1:{a.http_port}/api/desk/ws")
            assert (await desk.receive_json(timeout=10))["type"] == "hello"
            await set_state(a, "ana", "break", reason="lunch")
            # A caller reaches node A's queue (nobody takes it) and hangs up: a case.
            result = await place_call(f"sip:100@{a.sip_target}", from_user="612345678",
                                      duration=2.0)
            assert result.connected, result
            [call] = [c for c in await a.debug_calls() if c["direction"] == "inbound"]
            found = await get_json(a, f"/api/calls/{call['call_id']}/case")
            case = found["case_id"]
            shared = await send_json(a, "POST", f"/api/cases/{case}/shares", {"user": "bo"})
            assert shared["user"] == "bo"  # 201: node A acknowledged it
            assert a.proc is not None
            os.kill(a.proc.pid, signal.SIGKILL)
            assert await a.proc.wait() == -signal.SIGKILL
            await asyncio.sleep(0.5)
            assert (await agent_status(b, "ana"))["state"] == "break"
            # Through node B, the same browser: still logged in, the desk comes back on B.
            async with http.get(f"{b.http_base}/api/me") as resp:
                assert resp.status == 200 and (await resp.json())["user"] == "ana"
            again = await desk_hello(b, http)  # (closing it afterwards sets her offline)
            assert again["type"] == "hello" and again["state"]["state"] == "break", again
            assert again["state"]["reason"] == "lunch"
        timeline = await get_json(b, f"/api/cases/{case}")
        assert [i["call_id"] for i in timeline["interactions"]] == [call["call_id"]]
        shares = await get_json(b, f"/api/cases/{case}/shares")
        assert [s["user"] for s in shares["shares"]] == ["bo"], shares
    finally:
        drop_database(database)
