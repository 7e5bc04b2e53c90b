"""A node restarted while an agent is logged in (issue 14): nobody is logged out and the
agent's state survives. A real `centralita serve` with the routing store and the login
sessions in Redis; the agent logs in, opens the desk socket and is available; the server is
stopped (SIGTERM, as a restart does) and started again on the same data dir. Its shutdown
closed the desk socket, which used to set the agent offline; now the agent is still available,
the same cookie still logs in and the desk comes back saying so."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import ServerFactory
from tests.e2e.acd import agent_status, queue, set_state, start_acd
from tests.e2e.test_desk_calls import PASSWORD, add_agent_user
from tests.helpers.redis_server import REDIS_URL, new_prefix, require_redis
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.slow


async def desk_hello(server: ServerProcess, http: aiohttp.ClientSession) -> dict[str, Any]:
    """Open the desk socket with the session's cookie; the first message (hello)."""
    ws = await http.ws_connect(f"ws://127.0.0.1:{server.http_port}/api/desk/ws")
    try:
        hello: dict[str, Any] = await ws.receive_json(timeout=10)
    finally:
        await ws.close()
    return hello


async def test_a_restarted_node_logs_nobody_out_and_keeps_the_agents_state(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    await require_redis()
    prefix = new_prefix()
    server = await start_acd(
        server_factory, tmp_path, queues=[queue("support")],
        agents=[{"id": "ana", "name": "Ana", "queues": ["support"]}], entry_queue="support",
        config={"routing": {"store": "redis", "redis_url": REDIS_URL,
                            "key_prefix": prefix + "routing:", "node_id": "node-a"},
                "sessions": {"store": "redis", "redis_url": REDIS_URL,
                             "key_prefix": prefix + "sessions:"}})
    await add_agent_user(server, "ana")
    base = f"http://127.0.0.1:{server.http_port}"
    # unsafe: keep the cookies of an address (127.0.0.1), not only of a host name.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(base + "/api/login",
                             json={"username": "ana", "password": PASSWORD}) as resp:
            assert resp.status == 200, await resp.text()
        ws = await http.ws_connect(f"ws://127.0.0.1:{server.http_port}/api/desk/ws")
        hello = await ws.receive_json(timeout=10)
        assert hello["type"] == "hello"
        await set_state(server, "ana", "available")
        assert (await agent_status(server, "ana"))["state"] == "available"
        await server.stop()  # SIGTERM: the desk socket is closed by the server
        async with asyncio.timeout(10):  # what was sent before, then the close
            while (await ws.receive()).type not in (aiohttp.WSMsgType.CLOSE,
                                                     aiohttp.WSMsgType.CLOSED):
                pass
        await server.start()
        assert (await agent_status(server, "ana"))["state"] == "available"
        async with http.get(base + "/api/me") as resp:
            assert resp.status == 200 and (await resp.json())["user"] == "ana"
        again = await desk_hello(server, http)
        assert again["type"] == "hello"
        assert "available" in str(again), again
